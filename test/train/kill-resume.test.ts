/**
 * A kill at any moment loses nothing: `vpt-native train` is SIGKILLed at seeded random moments
 * (during start-up, steps, evaluation and the epoch's writes) and resumed after each kill from
 * last.state.safetensors, or started over when no state was written yet; the finished run's
 * per-epoch metrics and its trained tensors (last.state.safetensors, best.safetensors) are bit
 * for bit those of an uninterrupted run. A run killed after its last state but before its summary
 * resumes to write the summary (a resume of a finished run, summary written, is still refused).
 *
 * A handful of kills here; VPT_KILL_CAMPAIGN=<kills> (and VPT_KILL_SEED=<seed>) runs a long
 * campaign (bench/RESULTS.md records one).
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { readSafetensors } from '../../lib/index.js';
import { useSyntheticTask } from '../helpers/common.js';
import { killCampaign, runCli } from '../helpers/kill-campaign.js';
import { comparable, metricsOf } from '../helpers/run-metrics.js';

const KILLS = Number(process.env.VPT_KILL_CAMPAIGN ?? 4);
const SEED = Number(process.env.VPT_KILL_SEED ?? 20);

const task = useSyntheticTask(
  { classes: 3, imagesPerClass: 4, imageSize: 40, seed: 5 },
  { embedDim: 32, depth: 2, numHeads: 2, patchSize: 8, imgSize: 32, seed: 2 },
);

// Dropout and random crops and flips: the resumed run must restore every generator.
const flags = (out: string) =>
  [
    ['train', '--data', task.data, '--weights', task.weights, '--out', out],
    ['--epochs', '3', '--warmup-epochs', '1', '--batch-size', '2', '--base-lr', '1'],
    ['--deep', '--prompt-tokens', '2', '--prompt-dropout', '0.1', '--crop-size', '32'],
    ['--device', 'cpu', '--seed', '3', '--workers', '1'],
  ].flat();

async function tensorsOf(path: string): Promise<Map<string, Buffer>> {
  const { tensors } = await readSafetensors(path);
  return new Map(
    [...tensors].map(([name, t]) => [name, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)]),
  );
}

describe('SIGKILL at random moments, resumed each time', () => {
  it(
    `${KILLS} kills lose nothing: the metrics and trained tensors equal an uninterrupted run's`,
    async () => {
      const reference = join(task.dir, 'reference');
      const straight = await runCli([...flags(reference), '--json']);
      expect(straight.code, straight.stderr).toBe(0);
      const started = performance.now();

      const out = join(task.dir, 'killed');
      const campaign = await killCampaign(flags(out), out, KILLS, SEED, straight.lines, 2500);
      const seconds = (performance.now() - started) / 1000;
      console.log(`kill campaign (seed ${SEED}): ${JSON.stringify(campaign)} in ${seconds.toFixed(1)} s`);
      expect(campaign.kills + campaign.finishedFirst).toBe(KILLS);
      expect(campaign.kills).toBeGreaterThan(0);

      expect(comparable(await metricsOf(out))).toEqual(comparable(await metricsOf(reference)));
      for (const file of ['last.state.safetensors', 'best.safetensors']) {
        const got = await tensorsOf(join(out, file));
        const want = await tensorsOf(join(reference, file));
        expect([...got.keys()].sort(), file).toEqual([...want.keys()].sort());
        for (const [name, bytes] of want) expect(got.get(name)!.equals(bytes), `${file}: ${name}`).toBe(true);
      }
      expect(existsSync(join(out, 'summary.json'))).toBe(true);
      const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Record<string, unknown>;
      const want = JSON.parse(await readFile(join(reference, 'summary.json'), 'utf8')) as Record<string, unknown>;
      for (const key of ['bestEpoch', 'bestValTop1', 'testTop1AtBestVal', 'lastValTop1', 'lastTestTop1', 'epochs'])
        expect(summary[key], key).toEqual(want[key]);

      // Killed after the last state but before summary.json: the resume writes what is left.
      await rm(join(out, 'summary.json'));
      const finish = await runCli([...flags(out), '--resume', join(out, 'last.state.safetensors'), '--json']);
      expect(finish.code, finish.stderr).toBe(0);
      const rewritten = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Record<string, unknown>;
      for (const key of ['bestEpoch', 'bestValTop1', 'testTop1AtBestVal', 'lastValTop1', 'lastTestTop1', 'epochs'])
        expect(rewritten[key], key).toEqual(want[key]);
      expect(comparable(await metricsOf(out))).toEqual(comparable(await metricsOf(reference)));
    },
    KILLS * 20_000 + 60_000,
  );
});
