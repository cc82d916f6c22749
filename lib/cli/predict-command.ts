/** `vpt-native predict <images...>`: top-k classes of image files. */
import type { Command } from 'commander';

import { predict } from '../train/predict.js';

export function registerPredictCommand(program: Command): void {
  program
    .command('predict')
    .description('classify images with a tuned checkpoint')
    .argument('<images...>', 'image files (JPEG, PNG, WebP)')
    .requiredOption('--weights <path>', 'the backbone the checkpoint was trained on')
    .requiredOption('--checkpoint <file>', 'trainable-state file, e.g. runs/cub/best.safetensors')
    .option('--top-k <k>', 'classes per image (5)', Number)
    .option('--device <device>', 'cpu, cuda or cuda:N')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ vpt-native predict --weights models/vit_b16 --checkpoint runs/cub/best.safetensors bird1.jpg bird2.jpg')
    .action(async (images: string[], f: { weights: string; checkpoint: string; topK?: number; device?: string; json?: boolean }) => {
      const r = await predict({ weights: f.weights, checkpoint: f.checkpoint, images, ...(f.topK ? { topK: f.topK } : {}), ...(f.device ? { device: f.device } : {}) });
      if (f.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      for (const p of r) {
        process.stdout.write(`${p.path}\n${p.top.map((t) => `  ${(t.prob * 100).toFixed(1).padStart(5)}%  ${t.name}`).join('\n')}\n`);
      }
    });
}
