/** `vpt-native eval`: accuracy of a run's best checkpoint (or any checkpoint) on a split. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { type Command, Option } from 'commander';

import type { Preprocess } from '../data/datasets/common.js';
import { ErrorCode, VptError } from '../errors.js';
import { type EvaluateOptions, evaluate } from '../train/evaluate.js';

type Split = 'train' | 'val' | 'test';

interface EvalFlags {
  run?: string;
  data?: string;
  weights?: string;
  checkpoint?: string;
  arch?: string;
  split: Split;
  device?: string;
  preprocess?: Preprocess;
  perClass?: boolean;
  json?: boolean;
}

/** The data, weights and arch a run folder's config.json names (as `evaluate({ run })` reads them). */
async function runSettings(
  run: string,
): Promise<{ data?: string; weights?: string; arch?: string; preprocess?: Preprocess }> {
  const path = join(run, 'config.json');
  let config: unknown;
  try {
    config = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new VptError(
      ErrorCode.Io,
      `${run} is not a run folder (config.json unreadable: ${(error as Error).message})`,
      { cause: error },
    );
  }
  const c = (config ?? {}) as { data?: unknown; weights?: unknown; arch?: unknown; preprocess?: unknown };
  const text = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  return {
    ...(text(c.data) ? { data: text(c.data)! } : {}),
    ...(text(c.weights) ? { weights: text(c.weights)! } : {}),
    ...(text(c.arch) ? { arch: text(c.arch)! } : {}),
    ...(c.preprocess === 'fgvc' || c.preprocess === 'vtab' ? { preprocess: c.preprocess } : {}),
  };
}

/**
 * What to evaluate: a run folder as it is, a run folder with `--data`, `--weights`,
 * `--checkpoint` or `--arch` overriding what it names, or the three given explicitly.
 */
async function evaluateOptions(f: EvalFlags, cmd: Command): Promise<EvaluateOptions> {
  const common = {
    split: f.split,
    ...(f.device ? { device: f.device } : {}),
    ...(f.preprocess ? { preprocess: f.preprocess } : {}),
  };
  if (f.run && !f.data && !f.weights && !f.checkpoint && !f.arch) return { run: f.run, ...common };
  const run = f.run ? await runSettings(f.run) : {};
  const data = f.data ?? run.data;
  const weights = f.weights ?? run.weights;
  const checkpoint = f.checkpoint ?? (f.run ? join(f.run, 'best.safetensors') : undefined);
  const arch = f.arch ?? run.arch;
  if (!data || !weights || !checkpoint) {
    if (!f.run)
      cmd.error('error: eval needs --run, or --data, --weights and --checkpoint', {
        exitCode: 2,
        code: 'vpt.eval.options',
      });
    throw new VptError(
      ErrorCode.Option,
      `${join(f.run!, 'config.json')} names no ${data ? 'weights' : 'data'}; pass --${data ? 'weights' : 'data'}`,
    );
  }
  const preprocess = f.preprocess ?? run.preprocess;
  return { data, weights, checkpoint, ...(arch ? { arch } : {}), ...common, ...(preprocess ? { preprocess } : {}) };
}

export function registerEvalCommand(program: Command): void {
  const cmd = program
    .command('eval')
    .description('evaluate a tuned checkpoint on a dataset split')
    .option('--run <dir>', 'a run folder (uses its config.json and best.safetensors)')
    .option('--data <dir>', "dataset root (with --run: instead of the run's)")
    .option('--weights <path>', "backbone (with --run: instead of the run's)")
    .option(
      '--checkpoint <file>',
      "trainable-state file (with --run: instead of its best.safetensors, with the run's data and weights)",
    )
    .option(
      '--arch <name>',
      "timm architecture when the weights have no config.json (default: the run's, else the one the checkpoint records)",
    )
    .addOption(new Option('--split <split>', 'split to evaluate').choices(['train', 'val', 'test']).default('val'))
    .option('--device <device>', 'cpu, cuda or cuda:N')
    .addOption(
      new Option(
        '--preprocess <kind>',
        "the eval view: fgvc (resize + center crop) or vtab (resize to the crop size); default: the run's, else the dataset's splits.json, else fgvc",
      ).choices(['fgvc', 'vtab']),
    )
    .option('--per-class', 'print per-class accuracy')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ vpt-native eval --run runs/cub-deep --split test',
        '  $ vpt-native eval --run runs/cub-deep --checkpoint runs/cub-deep/epoch50.safetensors',
        '  $ vpt-native eval --data data/CUB_200_2011 --weights models/vit_b16 --checkpoint cub.safetensors',
      ].join('\n'),
    );
  cmd.action(async (f: EvalFlags) => {
    const r = await evaluate(await evaluateOptions(f, cmd));
    if (f.json) {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      `${r.split}: top-1 ${(r.top1 * 100).toFixed(2)}%  top-5 ${(r.top5 * 100).toFixed(2)}%  loss ${r.loss.toFixed(4)}  (${r.count} images)\n`,
    );
    if (f.perClass)
      for (const c of r.perClass) process.stdout.write(`  ${c.name.padEnd(32)} ${(c.top1 * 100).toFixed(1)}%\n`);
  });
}
