/**
 * `vpt-native prepare-cub <dir>`: CUB-200-2011's index files -> train.json / val.json (/ test.json).
 * Kept as the alias of `prepare cub` with its original default (val.json = the official test split)
 * and output; `prepare cub` defaults to VPT's protocol and also writes splits.json.
 */
import type { Command } from 'commander';

import { convertCub } from '../data/convert-cub.js';

/** Printed after a default conversion: its val.json is not a validation set carved from training. */
export const OFFICIAL_SPLIT_NOTE =
  'note: val.json is the official test split, so model selection on val is selection on the test set; ' +
  "--val-fraction 0.1 gives VPT's protocol (train/val carved from the training split + test.json)";

export function registerPrepareCubCommand(program: Command): void {
  program
    .command('prepare-cub')
    .argument('<dir>', 'the CUB_200_2011 folder (images/, images.txt, train_test_split.txt, image_class_labels.txt)')
    .description('alias of `prepare cub` keeping its original default: val.json is the official test split')
    .option('--out <dir>', 'write the JSON files here instead')
    .option(
      '--val-fraction <f>',
      'VPT protocol: carve a stratified val split from train; the official test split becomes test.json',
      Number,
    )
    .option('--seed <n>', 'seed of the --val-fraction split (0)', Number)
    .option('--force', 'overwrite existing JSON files')
    .option('--check-images', 'check that every image file exists')
    .addHelpText(
      'after',
      '\nExamples:\n  $ vpt-native prepare-cub data/CUB_200_2011\n  $ vpt-native prepare-cub data/CUB_200_2011 --val-fraction 0.1 --seed 42 --force',
    )
    .action(
      async (
        dir: string,
        f: { out?: string; valFraction?: number; seed?: number; force?: boolean; checkImages?: boolean },
      ) => {
        const { counts, files, removed } = await convertCub(dir, {
          ...(f.out !== undefined ? { out: f.out } : {}),
          ...(f.valFraction !== undefined ? { valFraction: f.valFraction } : {}),
          ...(f.seed !== undefined ? { seed: f.seed } : {}),
          force: f.force === true,
          checkImages: f.checkImages === true,
        });
        const lines = Object.entries(counts).map(
          ([split, n], i) => `${`${split}.json`.padEnd(11)} ${String(n).padStart(6)} images  ${files[i]}`,
        );
        for (const file of removed)
          lines.push(
            `removed ${file}: left by an earlier --val-fraction run, it would repeat val.json (the official test split)`,
          );
        if (f.valFraction === undefined) lines.push(OFFICIAL_SPLIT_NOTE);
        process.stdout.write(`${lines.join('\n')}\n`);
      },
    );
}
