/** `vpt-native train`: flags, config files (see lib/config/config-sources.ts), progress. */
import { Command, Option } from 'commander';

import { resolveCliConfig } from '../config/config-sources.js';
import { openDataset } from '../data/dataset.js';
import { ErrorCode, VptError } from '../errors.js';
import { train } from '../train/train.js';
import { createReporter } from './progress-reporter.js';
import { withInterrupt } from './interrupt.js';

const num = (v: string) => Number(v);

/** Flags that map one-to-one onto TrainConfig keys (commander camel-cases them). */
function addTrainFlags(cmd: Command): Command {
  return cmd
    .option('--data <dir>', 'dataset root: images/ + train.json / val.json / test.json')
    .option('--weights <path>', 'backbone: .safetensors / .npz, or a folder with model.safetensors + config.json')
    .option('--arch <name>', 'timm architecture when the weights have no config.json, e.g. vit_base_patch16_224')
    .option('--out <dir>', 'run folder')
    .option('--epochs <n>', 'epochs (100)', num)
    .option('--warmup-epochs <n>', 'linear warmup epochs (10)', num)
    .option('--batch-size <n>', 'batch size (128)', num)
    .option('--base-lr <x>', 'base learning rate; lr = base-lr x batch-size / 256 (0.25)', num)
    .addOption(new Option('--optimizer <name>', 'optimizer (sgd)').choices(['sgd', 'adamw']))
    .option('--momentum <x>', 'SGD momentum (0.9)', num)
    .option('--weight-decay <x>', 'weight decay (1e-4)', num)
    .option('--clip-grad-norm <x>', 'clip gradients to this global norm', num)
    .addOption(new Option('--schedule-unit <unit>', 'lr schedule per step, or per epoch as VPT (step)').choices(['step', 'epoch']))
    .addOption(new Option('--transfer <mode>', 'prompt | linear (head only) | full (fine-tuning)').choices(['prompt', 'linear', 'full']))
    .option('--prompt-tokens <n>', 'prompt tokens (5)', num)
    .option('--deep', 'VPT-deep: new prompts before every block')
    .option('--no-deep', 'VPT-shallow (default)')
    .option('--prompt-dropout <p>', 'dropout on prompt tokens (0)', num)
    .option('--prompt-project <dim>', 'prompt dimension with a projection to the model width (0 = none)', num)
    .option('--mlp-layers <n>', 'hidden layers in the head (0)', num)
    .addOption(new Option('--class-weights <mode>', 'class-weighted loss (none)').choices(['none', 'inv', 'inv_sqrt']))
    .option('--no-augment', 'train on the eval view (no random crop / flip)')
    .option('--no-cache-features', 'linear probing without augmentation: recompute backbone features every epoch')
    .option('--crop-size <px>', 'crop size (224); the backbone position embedding is resampled to it', num)
    .option('--device <device>', 'cpu, cuda or cuda:N (default: CUDA when available)')
    .addOption(new Option('--precision <p>', 'fp32 or bf16 (default: bf16 on CUDA, fp32 on CPU)').choices(['fp32', 'bf16']))
    .option('--checkpoint-blocks', 'activation checkpointing: recompute frozen blocks in backward (less memory)')
    .option('--seed <n>', 'seed for init, dropout and data order (42)', num)
    .option('--workers <n>', 'image decode workers (all cores)', num)
    .option('--eval-batch-size <n>', 'evaluation batch size (= batch size)', num)
    .addOption(new Option('--on-bad-image <policy>', 'what to do with unreadable images (error)').choices(['error', 'skip']))
    .option('--resume <state>', 'continue from a last.state.safetensors');
}

export function registerTrainCommand(program: Command): void {
  addTrainFlags(program.command('train'))
    .description('train VPT (or linear probing / full fine-tuning) on a VPT-style dataset')
    .option('--config <file>', 'YAML or JSON file with config keys (camelCase, as in the API)')
    .option('--vpt-config <file>', "the original VPT repo's yacs YAML (e.g. configs/prompt/cub.yaml)")
    .option('--quiet', 'print nothing but errors and the final line')
    .option('--json', 'print machine-readable progress events, one JSON object per line')
    .addHelpText('after', `
Examples:
  $ vpt-native train --data data/CUB_200_2011 --weights models/vit_base_patch16_224.augreg_in21k \\
      --out runs/cub-deep --deep --prompt-tokens 10 --base-lr 0.25
  $ vpt-native train --vpt-config vpt/configs/prompt/cub.yaml --data data/CUB_200_2011 \\
      --weights models/ViT-B_16.npz --out runs/cub
  $ vpt-native train --resume runs/cub-deep/last.state.safetensors --config runs/cub-deep/config.json`)
    .action(async (flags: Record<string, unknown>) => {
      const { config, notes, numberClasses } = await resolveCliConfig(flags);
      for (const note of notes) process.stderr.write(`vpt-native: ${note}\n`);
      if (numberClasses !== undefined && typeof config.data === 'string') {
        const found = (await openDataset(config.data)).numClasses;
        if (found !== numberClasses) {
          throw new VptError(ErrorCode.Option, `${String(flags.vptConfig)}: DATA.NUMBER_CLASSES is ${numberClasses} but ${config.data} has ${found} classes`);
        }
      }
      const report = createReporter(flags.json ? 'json' : flags.quiet ? 'quiet' : 'auto');
      const result = await withInterrupt((signal) => train(config, { onProgress: report, signal }));
      if (flags.quiet) process.stdout.write(`best val top-1 ${result.bestValTop1 ?? 'n/a'} (epoch ${result.bestEpoch}); files in ${config.out}\n`);
    });
}
