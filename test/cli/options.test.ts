/**
 * Command-line options of `train` and `demo`: boolean flag pairs against config files, one
 * usage error for `--nproc N` with bad options, validated numeric demo flags.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/binding.js';
import { commandLineFlags, registerTrainCommand } from '../../lib/cli/train-command.js';
import { resolveCliConfig } from '../../lib/config/config-sources.js';
import { type ResolvedTrainConfig, resolveTrainConfig } from '../../lib/config/train-config.js';
import { FIXTURES, tempDir } from '../helpers/common.js';

const cli = join(packageRoot, 'dist', 'bin', 'launch.cjs');

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

/** Runs the CLI; resolves with its exit code and output, whatever the code. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], {
      encoding: 'utf8',
      timeout: 50_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** `vpt-native train <args>` parsed as the command does, resolved without training. */
async function resolveTrainArgs(args: string[]): Promise<ResolvedTrainConfig> {
  const program = new Command().exitOverride();
  registerTrainCommand(program);
  let flags: Record<string, unknown> = {};
  program.commands
    .find((c) => c.name() === 'train')!
    .action((_parsed: unknown, cmd: Command) => {
      flags = commandLineFlags(cmd);
    });
  await program.parseAsync(['train', '--data', 'd', '--weights', 'w', '--out', 'o', ...args], { from: 'user' });
  return resolveTrainConfig((await resolveCliConfig(flags)).config);
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

describe('train: boolean options', () => {
  const defaults = resolveTrainConfig({ data: 'd', weights: 'w', out: 'o' });
  const booleans = Object.keys(defaults).filter(
    (k) => typeof defaults[k as keyof ResolvedTrainConfig] === 'boolean',
  ) as Array<keyof ResolvedTrainConfig>;

  it('every boolean config key has both --x and --no-x', () => {
    expect(booleans.sort()).toEqual([
      'augment',
      'cacheFeatures',
      'checkpointBlocks',
      'cudaGraphs',
      'deep',
      'deepNoExpand',
      'deepShared',
      'fusedLayerNorm',
      'reverseDeep',
    ]);
    const program = new Command();
    registerTrainCommand(program);
    const flags = program.commands.find((c) => c.name() === 'train')!.options.map((o) => o.long);
    for (const key of booleans)
      expect(flags, key).toEqual(expect.arrayContaining([`--${kebab(key)}`, `--no-${kebab(key)}`]));
  });

  it('a flag turns a --config value either way; without one the file (else the default) holds', async () => {
    for (const value of [true, false]) {
      const file = join(tmp.dir, `all-${value}.json`);
      await writeFile(file, JSON.stringify(Object.fromEntries(booleans.map((k) => [k, value]))));
      const fromFile = await resolveTrainArgs(['--config', file]);
      for (const key of booleans) {
        expect(fromFile[key], `${key} from --config`).toBe(value);
        const flag = value ? `--no-${kebab(key)}` : `--${kebab(key)}`;
        expect((await resolveTrainArgs(['--config', file, flag]))[key], `${flag} over --config`).toBe(!value);
        expect((await resolveTrainArgs([flag]))[key], `${flag} alone`).toBe(!value);
      }
    }
    const plain = await resolveTrainArgs([]);
    for (const key of booleans) expect(plain[key], key).toBe(defaults[key]);
  });

  it('precedence: defaults < --vpt-config < --config < flags, for booleans too', async () => {
    const vptConfig = join(FIXTURES, 'vpt-configs', 'cub.yaml'); // MODEL.PROMPT.DEEP: True
    const shallow = join(tmp.dir, 'shallow.yaml');
    await writeFile(shallow, 'deep: false\n');
    expect((await resolveTrainArgs(['--vpt-config', vptConfig])).deep).toBe(true);
    expect((await resolveTrainArgs(['--vpt-config', vptConfig, '--no-deep'])).deep).toBe(false);
    expect((await resolveTrainArgs(['--vpt-config', vptConfig, '--config', shallow])).deep).toBe(false);
    expect((await resolveTrainArgs(['--vpt-config', vptConfig, '--config', shallow, '--deep'])).deep).toBe(true);
  });
});

describe('train --nproc', () => {
  it('options no worker could take are one usage error from the launcher, before any worker starts', async () => {
    const out = join(tmp.dir, 'refused');
    const r = await run(['train', '--nproc', '2', '--data', 'd', '--weights', 'w', '--out', out, '--epochs', '2']);
    expect(r.code).toBe(2);
    expect(r.stderr.match(/"warmupEpochs": 10 warmup epochs leave none of the 2 epochs/g), r.stderr).toHaveLength(1);
    expect(r.stderr).not.toContain('every worker refused');
    expect(existsSync(out)).toBe(false);
    const bad = await run([
      'train',
      '--nproc',
      '2',
      '--vpt-config',
      join(FIXTURES, 'vpt-configs', 'cub.yaml'),
      '--data',
      'd',
      '--weights',
      'w',
      '--out',
      out,
      '--batch-size',
      '0',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.match(/option "batchSize"/g), bad.stderr).toHaveLength(1);
    expect(bad.stderr.match(/not honored by vpt-native: SOLVER\.LOSS/g), bad.stderr).toHaveLength(1);
    // Refused only by a data-parallel run: a global batch that does not divide over the ranks.
    const uneven = await run([
      'train',
      '--nproc',
      '2',
      '--data',
      'd',
      '--weights',
      'w',
      '--out',
      out,
      '--epochs',
      '2',
      '--warmup-epochs',
      '0',
      '--batch-size',
      '3',
    ]);
    expect(uneven.code).toBe(2);
    expect(uneven.stderr.match(/global batch 3 must divide evenly over 2 ranks/g), uneven.stderr).toHaveLength(1);
    expect(uneven.stderr).not.toContain('every worker refused');
    expect(existsSync(out)).toBe(false);
  });
});

describe('demo: numeric flags', () => {
  it.each([
    ['--epochs', '0'],
    ['--epochs', 'abc'],
    ['--epochs', '1.5'],
    ['--seed', '-1'],
    ['--seed', ''],
  ])('%s %j is a usage error naming the flag', async (flag, value) => {
    const out = join(tmp.dir, 'demo-refused');
    const r = await run(['demo', '--out', out, '--quiet', flag, value]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`option '${flag} <n>' argument '${value}' is invalid`);
    expect(existsSync(out)).toBe(false);
  });

  it('--epochs 1 trains one epoch (the warmup shrinks to leave it for the decay)', async () => {
    const out = join(tmp.dir, 'demo-1');
    const r = await run(['demo', '--out', out, '--quiet', '--epochs', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('best epoch 1');
  });
});
