/** `vpt-native demo`: the whole pipeline on a built-in synthetic dataset and tiny ViT. */
import { basename } from 'node:path';

import type { Command } from 'commander';

import { runDemo } from '../demo/run-demo.js';
import { withInterrupt } from './interrupt.js';
import { createReporter } from './progress-reporter.js';
import { nonNegativeInteger, positiveInteger } from './train-command.js';

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('synthesize a dataset, build a tiny ViT, train VPT-deep on CPU (~1 min), evaluate, predict')
    .option('--out <dir>', 'where to write everything', 'vpt-demo')
    .option('--weights <path>', 'a real backbone instead of the random tiny ViT (images are then cropped to 224)')
    .option('--epochs <n>', 'epochs, an integer >= 1 (30)', positiveInteger)
    .option('--seed <n>', 'seed, an integer >= 0 (0)', nonNegativeInteger)
    .option('--quiet', 'print only the summary')
    .addHelpText('after', '\nExample:\n  $ npx vpt-native demo --out /tmp/vpt-demo')
    .action(async (flags: { out: string; weights?: string; epochs?: number; seed?: number; quiet?: boolean }) => {
      const report = createReporter(flags.quiet ? 'quiet' : 'auto');
      const r = await withInterrupt((signal) =>
        runDemo({
          out: flags.out,
          ...(flags.weights ? { weights: flags.weights } : {}),
          ...(flags.epochs !== undefined ? { epochs: flags.epochs } : {}),
          ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
          onProgress: report,
          signal,
        }),
      );
      const chance = 1 / r.evaluation.perClass.length;
      const lines = [
        '',
        `VPT-deep on ${r.evaluation.perClass.length} synthetic classes: val top-1 ${pct(r.evaluation.top1)} (chance ${pct(chance)}), best epoch ${r.train.bestEpoch}, ${r.train.imagesPerSecond.toFixed(0)} train img/s`,
        'predictions:',
        ...r.predictions.map(
          (p) => `  ${basename(p.path)}: ${p.top.map((t) => `${t.name} ${(t.prob * 100).toFixed(0)}%`).join(', ')}`,
        ),
        'written:',
        `  dataset      ${r.data}  (train.json, val.json)`,
        `  backbone     ${r.weights}`,
        `  run          ${r.run}  (config.json, metrics.jsonl, summary.json, best.safetensors, last.state.safetensors, curves.png)`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
