/**
 * `vpt-native predict` and `vpt-native eval` on the command line: --arch (and its default, the
 * architecture the checkpoint records), --top-k validation, a missing image, eval's usage error,
 * and --data / --weights / --checkpoint overriding a --run folder's.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/binding.js';
import { ARCH_ONLY as ARCH, archOnlyCheckpoint, archOnlyTask, tempDir } from '../helpers/common.js';

const cli = join(packageRoot, 'dist', 'bin', 'launch.cjs');

/** Runs the CLI; resolves with its exit code and output whatever the code. */
function vpt(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let tmp: Awaited<ReturnType<typeof tempDir>>;
let weights: string;
let tunedA: string;
let tunedB: string;
let data: string;
let image: string;
let run: string;
beforeAll(async () => {
  tmp = await tempDir();
  ({ weights, image, data } = await archOnlyTask(tmp.dir));
  tunedA = await archOnlyCheckpoint(weights, join(tmp.dir, 'a.safetensors'), { seed: 1 });
  tunedB = await archOnlyCheckpoint(weights, join(tmp.dir, 'b.safetensors'), { seed: 2 });
  // A run folder that was moved: its config names data and weights that are no longer there.
  run = join(tmp.dir, 'run');
  await mkdir(run);
  await writeFile(
    join(run, 'config.json'),
    JSON.stringify({ data: join(tmp.dir, 'moved-data'), weights: join(tmp.dir, 'moved.safetensors'), out: run }),
  );
  await copyFile(tunedA, join(run, 'best.safetensors'));
}, 120_000);
afterAll(async () => {
  await tmp.cleanup();
});

describe('vpt-native predict', () => {
  it("rebuilds a backbone without config.json from the checkpoint's arch, or from --arch", async () => {
    const plain = await vpt([
      'predict',
      '--weights',
      weights,
      '--checkpoint',
      tunedA,
      '--device',
      'cpu',
      '--json',
      image,
    ]);
    expect(plain.stderr).toBe('');
    expect(plain.code).toBe(0);
    expect(JSON.parse(plain.stdout)[0].top).toHaveLength(3);
    const named = await vpt([
      'predict',
      '--weights',
      weights,
      '--checkpoint',
      tunedA,
      '--arch',
      ARCH,
      '--top-k',
      '2',
      '--device',
      'cpu',
      '--json',
      image,
    ]);
    expect(named.code).toBe(0);
    expect(JSON.parse(named.stdout)[0].top).toHaveLength(2);
    expect((await vpt(['predict', '--help'])).stdout).toMatch(/--arch <name>/);
  }, 120_000);

  it('--top-k must be an integer >= 1: a usage error naming --top-k', async () => {
    for (const k of ['0', 'abc', '-1', '1.5', '']) {
      const r = await vpt(['predict', '--weights', weights, '--checkpoint', tunedA, `--top-k=${k}`, image]);
      expect(r.code, k).toBe(2);
      expect(r.stderr, k).toMatch(/error: option '--top-k <k>' argument '.*' is invalid\. expected an integer >= 1\./);
    }
  }, 120_000);

  it('a missing image is named, with no dataset JSON entry or onBadImage hint', async () => {
    const missing = join(tmp.dir, 'nope.jpg');
    const r = await vpt(['predict', '--weights', weights, '--checkpoint', tunedA, '--device', 'cpu', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`vpt-native: bad image ${missing}: file not found [VPT_DATA]\n`);
  });
});

describe('vpt-native eval', () => {
  const result = async (args: string[]) => {
    const r = await vpt(['eval', '--split', 'train', '--device', 'cpu', '--json', ...args]);
    expect(r.stderr, args.join(' ')).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as { loss: number; count: number; top1: number };
  };

  it('without --run nor all of --data, --weights, --checkpoint: its own usage, after "error:", exit 2', async () => {
    const r = await vpt(['eval', '--data', data]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: eval needs --run, or --data, --weights and --checkpoint\n/);
    expect(r.stderr).toContain('Usage: vpt-native eval [options]');
    expect(r.stderr).not.toMatch(/Commands:/); // not the top-level help
  });

  it('--data, --weights and --checkpoint override what the run folder names; the arch comes from the checkpoint', async () => {
    const explicitA = await result(['--data', data, '--weights', weights, '--checkpoint', tunedA]);
    const explicitB = await result(['--data', data, '--weights', weights, '--checkpoint', tunedB]);
    expect(explicitA.loss).not.toBe(explicitB.loss);
    expect(await result(['--run', run, '--data', data, '--weights', weights])).toEqual(explicitA);
    expect(
      await result(['--run', run, '--data', data, '--weights', weights, '--checkpoint', tunedB, '--arch', ARCH]),
    ).toEqual(explicitB);
  }, 180_000);

  it('a run folder used as it is still reads its own data and weights', async () => {
    const r = await vpt(['eval', '--run', run, '--device', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(join(tmp.dir, 'moved-data'));
    expect((await vpt(['eval', '--help'])).stdout).toMatch(
      /--checkpoint <file>\s+trainable-state file \(with --run: instead of its\s+best\.safetensors/,
    );
  });
});
