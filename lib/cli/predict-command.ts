/** `vpt-native predict <images...>`: top-k classes of image files. */
import { type Command, InvalidArgumentError, Option } from 'commander';

import type { Preprocess } from '../data/datasets/common.js';
import { predict } from '../train/predict.js';

/** `--top-k`: an integer >= 1 (commander names the option when this throws). */
function positiveInteger(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected an integer >= 1.');
  return n;
}

export function registerPredictCommand(program: Command): void {
  program
    .command('predict')
    .description('classify images with a tuned checkpoint')
    .argument('<images...>', 'image files (JPEG, PNG, WebP)')
    .requiredOption('--weights <path>', 'the backbone the checkpoint was trained on')
    .requiredOption('--checkpoint <file>', 'trainable-state file, e.g. runs/cub/best.safetensors')
    .option(
      '--arch <name>',
      'timm architecture when the weights have no config.json (default: the one the checkpoint records)',
    )
    .option('--top-k <k>', 'classes per image, an integer >= 1 (5)', positiveInteger)
    .option('--device <device>', 'cpu, cuda or cuda:N')
    .addOption(
      new Option(
        '--preprocess <kind>',
        'the view the checkpoint was trained with: fgvc (resize + center crop, default) or vtab (resize to the crop size)',
      ).choices(['fgvc', 'vtab']),
    )
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExample:\n  $ vpt-native predict --weights models/vit_b16 --checkpoint runs/cub/best.safetensors bird1.jpg bird2.jpg',
    )
    .action(
      async (
        images: string[],
        f: {
          weights: string;
          checkpoint: string;
          arch?: string;
          topK?: number;
          device?: string;
          preprocess?: Preprocess;
          json?: boolean;
        },
      ) => {
        const r = await predict({
          weights: f.weights,
          checkpoint: f.checkpoint,
          images,
          ...(f.arch ? { arch: f.arch } : {}),
          ...(f.topK !== undefined ? { topK: f.topK } : {}),
          ...(f.device ? { device: f.device } : {}),
          ...(f.preprocess ? { preprocess: f.preprocess } : {}),
        });
        if (f.json) {
          process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
          return;
        }
        for (const p of r) {
          process.stdout.write(
            `${p.path}\n${p.top.map((t) => `  ${(t.prob * 100).toFixed(1).padStart(5)}%  ${t.name}`).join('\n')}\n`,
          );
        }
      },
    );
}
