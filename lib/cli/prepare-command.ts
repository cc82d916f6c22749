/** `vpt-native prepare <dataset> <dir>`: a benchmark dataset's official files -> a VPT-style folder with VPT's splits. */
import type { Command } from 'commander';

import { datasetNames } from '../data/datasets/catalog.js';
import { type PrepareResult, prepareDataset } from '../data/prepare-dataset.js';

/** What prepare printed: the folder, each split with its size, hash and meaning, the manifest. */
export function formatPrepareReport(r: PrepareResult): string {
  const lines = [`prepared ${r.dataset} (${r.numClasses} classes) from ${r.sources.join(', ')} into ${r.out}`];
  for (const s of r.splits) {
    lines.push(
      `${`${s.name}.json`.padEnd(15)} ${String(s.images).padStart(7)} images  sha256 ${s.sha256.slice(0, 16)}  ${s.what}`,
    );
  }
  const extra = r.files.filter((f) => !r.splits.some((s) => s.file === f) && f !== r.manifest);
  for (const f of extra) lines.push(`wrote ${f}`);
  if (r.imagesLink) lines.push(`linked ${r.imagesLink.path} -> ${r.imagesLink.target}`);
  lines.push(`${r.manifest}: sizes, full sha256 hashes, seed; preprocessing: ${r.preprocess}`);
  if (r.paper)
    lines.push(
      `the VPT paper's split sizes (its appendix table): train ${r.paper.train} / val ${r.paper.val} / test ${r.paper.test}`,
    );
  const c = r.officialSizes;
  if (c) {
    const sizes = (x: { train: number; val?: number; test: number }) =>
      `train ${x.train}${x.val !== undefined ? ` / val ${x.val}` : ''} / test ${x.test}`;
    lines.push(
      c.matches
        ? `official splits complete: ${sizes(c.found)}, as published in ${c.publishedIn}`
        : `warning: the official splits hold ${sizes(c.found)}, but ${c.publishedIn} gives ${sizes(c.expected)}: ` +
            'an incomplete or different download; results will not compare with published ones',
    );
  }
  lines.push(`train with: vpt-native train --data ${r.out} ...`);
  return `${lines.join('\n')}\n`;
}

export interface PrepareFlags {
  out?: string;
  valFraction?: number;
  seed?: number;
  shots?: number;
  percentage?: number;
  force?: boolean;
  checkImages?: boolean;
}

export async function runPrepare(dataset: string, dir: string, f: PrepareFlags): Promise<void> {
  const r = await prepareDataset(dataset, dir, {
    ...(f.out !== undefined ? { out: f.out } : {}),
    ...(f.valFraction !== undefined ? { valFraction: f.valFraction } : {}),
    ...(f.seed !== undefined ? { seed: f.seed } : {}),
    ...(f.shots !== undefined ? { shots: f.shots } : {}),
    ...(f.percentage !== undefined ? { percentage: f.percentage } : {}),
    force: f.force === true,
    checkImages: f.checkImages === true,
  });
  process.stdout.write(formatPrepareReport(r));
}

export function registerPrepareCommand(program: Command): void {
  program
    .command('prepare')
    .argument('<dataset>', 'cub, nabirds, flowers, dogs, cars or vtab-<task> (`vpt-native datasets` lists them)')
    .argument('<dir>', "the dataset's raw folder, as its official archives unpack")
    .description("convert a benchmark dataset's official files into a VPT-style folder with VPT's splits")
    .option('--out <dir>', 'the VPT folder (default: the raw folder for cub and vtab-*, <dir>/vpt for the others)')
    .option('--val-fraction <f>', 'fraction of each class of the official train split carved into val (0.1)', Number)
    .option('--seed <n>', 'seed of the carved, few-shot and percentage splits (0)', Number)
    .option('--shots <k>', 'few-shot: keep K images per class in train.json', Number)
    .option(
      '--percentage <p>',
      "also write train_{P}.json with a fraction P of each class (VPT's DATA.PERCENTAGE)",
      Number,
    )
    .option('--force', 'overwrite existing files')
    .option('--check-images', 'check that every image file exists')
    .addHelpText(
      'after',
      `\nDatasets: ${datasetNames().join(', ')}\n\nExamples:\n  $ vpt-native prepare nabirds data/nabirds --seed 42\n  $ vpt-native prepare flowers data/flowers102\n  $ vpt-native prepare vtab-cifar data/vtab-1k/cifar`,
    )
    .action(runPrepare);
}
