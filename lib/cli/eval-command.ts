/** `vpt-native eval`: accuracy of a run's best checkpoint (or any checkpoint) on a split. */
import { Command, Option } from 'commander';

import { evaluate } from '../train/evaluate.js';

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description("evaluate a tuned checkpoint on a dataset split")
    .option('--run <dir>', 'a run folder (uses its config.json and best.safetensors)')
    .option('--data <dir>', 'dataset root (without --run)')
    .option('--weights <path>', 'backbone (without --run)')
    .option('--checkpoint <file>', 'trainable-state file (without --run)')
    .addOption(new Option('--split <split>', 'split to evaluate').choices(['train', 'val', 'test']).default('val'))
    .option('--device <device>', 'cpu, cuda or cuda:N')
    .option('--per-class', 'print per-class accuracy')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  $ vpt-native eval --run runs/cub-deep --split test\n  $ vpt-native eval --data data/CUB_200_2011 --weights models/vit_b16 --checkpoint cub.safetensors')
    .action(async (f: { run?: string; data?: string; weights?: string; checkpoint?: string; split: 'train' | 'val' | 'test'; device?: string; perClass?: boolean; json?: boolean }) => {
      const device = f.device ? { device: f.device } : {};
      let r;
      if (f.run) {
        r = await evaluate({ run: f.run, split: f.split, ...device });
      } else {
        if (!f.data || !f.weights || !f.checkpoint) program.error('eval needs --run, or --data, --weights and --checkpoint', { exitCode: 2 });
        r = await evaluate({ data: f.data!, weights: f.weights!, checkpoint: f.checkpoint!, split: f.split, ...device });
      }
      if (f.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      process.stdout.write(`${r.split}: top-1 ${(r.top1 * 100).toFixed(2)}%  top-5 ${(r.top5 * 100).toFixed(2)}%  loss ${r.loss.toFixed(4)}  (${r.count} images)\n`);
      if (f.perClass) for (const c of r.perClass) process.stdout.write(`  ${c.name.padEnd(32)} ${(c.top1 * 100).toFixed(1)}%\n`);
    });
}
