/**
 * `vpt-native cls-embeddings`: the per-class CLS embeddings VPT's CLS prompt inits read
 * (MODEL.PROMPT.CLSEMB_PATH), computed from a dataset split with the frozen backbone.
 */
import { type Command, Option } from 'commander';

import { computeClsEmbeddings } from '../train/cls-embeddings.js';

export function registerClsEmbeddingsCommand(program: Command): void {
  program
    .command('cls-embeddings')
    .description(
      "per-class mean of the backbone's class token entering each block and leaving the last one, as a (classes, depth + 1, width) .npy for --prompt-init final-cls / cls-nolastl / cls-nofirstl",
    )
    .requiredOption('--data <dir>', 'dataset root (images/ + train.json ...)')
    .requiredOption(
      '--weights <path>',
      'backbone: .safetensors / .npz, or a folder with model.safetensors + config.json',
    )
    .requiredOption('--out <file.npy>', 'the .npy to write')
    .option('--arch <name>', 'timm architecture when the weights have no config.json')
    .addOption(new Option('--split <name>', 'split to average over (train)').choices(['train', 'val', 'test']))
    .option('--crop-size <px>', "image size the backbone runs at (the checkpoint's)", Number)
    .option('--batch-size <n>', 'images per forward pass (32)', Number)
    .addOption(new Option('--preprocess <kind>', "eval view: fgvc or vtab (the dataset's)").choices(['fgvc', 'vtab']))
    .option('--device <device>', 'cpu, cuda or cuda:N (default: CUDA when available)')
    .addHelpText(
      'after',
      '\nExample:\n  $ vpt-native cls-embeddings --data data/CUB_200_2011 --weights models/vit_base_patch16_224.orig_in21k --out cub-cls.npy\n  $ vpt-native train ... --prompt-tokens 200 --prompt-init final-cls --cls-embeddings cub-cls.npy',
    )
    .action(
      async (f: {
        data: string;
        weights: string;
        out: string;
        arch?: string;
        split?: 'train' | 'val' | 'test';
        cropSize?: number;
        batchSize?: number;
        preprocess?: 'fgvc' | 'vtab';
        device?: string;
      }) => {
        const r = await computeClsEmbeddings({
          data: f.data,
          weights: f.weights,
          out: f.out,
          ...(f.arch ? { arch: f.arch } : {}),
          ...(f.split ? { split: f.split } : {}),
          ...(f.cropSize ? { cropSize: f.cropSize } : {}),
          ...(f.batchSize ? { batchSize: f.batchSize } : {}),
          ...(f.preprocess ? { preprocess: f.preprocess } : {}),
          ...(f.device ? { device: f.device } : {}),
        });
        const images = r.counts.reduce((a, b) => a + b, 0);
        console.log(`wrote ${f.out}: [${r.shape.join(', ')}] from ${images} images`);
      },
    );
}
