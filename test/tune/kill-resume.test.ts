/**
 * A kill at any moment loses nothing, for `tune` too: `vpt-native tune` (a 2 x 2 grid with
 * successive halving, dropout, random crops and flips, then one final run) is SIGKILLed at seeded
 * random moments (start-up, the search's groups, rungs and trial writes, the reports, the final
 * run) and resumed with --resume after each kill, or started over when no tune.json was written
 * yet. The finished tune's trials.jsonl, chosen config (best-config.yaml), summary.json and every
 * saved tensor (each trial's state, the final run's state and best) are those of an
 * uninterrupted tune, bit for bit. The same again with halving over restarted rungs
 * (--rung-schedule restart), whose stages make new trials as they go.
 *
 * Half the kills come at a random time within an uninterrupted tune's duration, the others just
 * after a random progress line. A handful of kills here; VPT_KILL_CAMPAIGN=<kills> (and VPT_KILL_SEED=<seed>) runs a long
 * campaign.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

import { describe, expect, it } from 'vitest';

import { readSafetensors } from '../../lib/index.js';
import type { TuneSummary } from '../../lib/tune/tune-summary.js';
import { useSyntheticTask } from '../helpers/common.js';
import { killCampaign, runCli } from '../helpers/kill-campaign.js';
import { comparable, metricsOf } from '../helpers/run-metrics.js';
import { steady, trialsOf } from '../helpers/tune-task.js';

const KILLS = Number(process.env.VPT_KILL_CAMPAIGN ?? 4);
const SEED = Number(process.env.VPT_KILL_SEED ?? 21);

// Val carved from train (tune selects on val, distinct from test).
const task = useSyntheticTask(
  { classes: 3, imagesPerClass: 8, imageSize: 40, seed: 5 },
  { embedDim: 24, depth: 2, numHeads: 2, patchSize: 8, imgSize: 32, seed: 2 },
  { valFraction: 0.25, seed: 1 },
);

const flags = (out: string, extra: string[] = []) =>
  [
    ['tune', '--data', task.data, '--weights', task.weights, '--out', out],
    ['--epochs', '2', '--warmup-epochs', '1', '--batch-size', '4', '--crop-size', '32', '--seed', '3'],
    ['--lr', '2,0.5', '--wd', '0.001,0', '--prompt-tokens', '2', '--deep', '--prompt-dropout', '0.1'],
    ['--prune', 'halving', '--rungs', '1', '--keep', '0.5', '--group-size', '2', '--seeds', '1'],
    // Pinned (stacked): 'auto' could time its way to the other choice in the reference tune
    // (bits differ at float rounding); a resume keeps its first call's choice (stacked-step.json).
    ['--stacked-step', 'on'],
    ['--device', 'cpu', '--workers', '1'],
    extra,
  ].flat();

/** Every .safetensors file under `dir` (relative path -> tensor name -> bytes). */
async function savedTensors(dir: string): Promise<Map<string, Map<string, Buffer>>> {
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.safetensors')).sort();
  const out = new Map<string, Map<string, Buffer>>();
  for (const f of files) {
    const { tensors } = await readSafetensors(join(dir, f));
    out.set(
      f,
      new Map(
        [...tensors].map(([name, t]) => [name, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)]),
      ),
    );
  }
  return out;
}

/** summary.json without wall-clock time, its final runs' folders relative to the tune's. */
const summaryOf = async (out: string) => {
  const { seconds: _s, final, ...rest } = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as TuneSummary;
  return { ...rest, final: final.map((f) => ({ ...f, out: relative(out, f.out) })) };
};

/** Kills `tune` with `extra` flags `kills` times (seeded by `seed`) and checks the resumed tune equals an uninterrupted one. */
function campaignTest(name: string, extra: string[], kills: number, seed: number) {
  it(
    `${kills} kills lose nothing${name}: trials, chosen config, summary and tensors equal an uninterrupted tune's`,
    async () => {
      const dir = join(task.dir, extra.at(-1)!);
      const reference = join(dir, 'reference');
      let started = performance.now();
      const straight = await runCli([...flags(reference, extra), '--json']);
      expect(straight.code, straight.stderr).toBe(0);
      // The timed kills land anywhere in a run's span (start-up, search, reports, final run), whatever the machine's speed.
      const span = performance.now() - started;
      started = performance.now();

      const out = join(dir, 'killed');
      const campaign = await killCampaign(flags(out, extra), out, kills, seed, straight.lines, span, {
        file: join(out, 'tune.json'),
        flags: ['--resume'],
      });
      const seconds = (performance.now() - started) / 1000;
      console.log(`tune${name} kill campaign (seed ${seed}): ${JSON.stringify(campaign)} in ${seconds.toFixed(1)} s`);
      expect(campaign.kills + campaign.finishedFirst).toBe(kills);
      expect(campaign.kills).toBeGreaterThan(0);

      expect(steady(await trialsOf(out))).toEqual(steady(await trialsOf(reference)));
      expect(await readFile(join(out, 'best-config.yaml'), 'utf8')).toBe(
        await readFile(join(reference, 'best-config.yaml'), 'utf8'),
      );
      expect(await summaryOf(out)).toEqual(await summaryOf(reference));
      const final = join('final', 'seed-42');
      expect(comparable(await metricsOf(join(out, final)))).toEqual(
        comparable(await metricsOf(join(reference, final))),
      );

      const got = await savedTensors(out);
      const want = await savedTensors(reference);
      expect([...got.keys()]).toEqual([...want.keys()]);
      expect([...want.keys()]).toContain(join(final, 'last.state.safetensors'));
      for (const [file, tensors] of want) {
        expect([...got.get(file)!.keys()].sort(), file).toEqual([...tensors.keys()].sort());
        for (const [name, bytes] of tensors)
          expect(got.get(file)!.get(name)!.equals(bytes), `${file}: ${name}`).toBe(true);
      }
    },
    kills * 20_000 + 60_000,
  );
}

describe('tune: SIGKILL at random moments, resumed each time', () => {
  campaignTest('', ['--rung-schedule', 'continue'], KILLS, SEED);
  // Halving over restarted rungs: 4 one-epoch runs, then the best 2 over the full 2 epochs.
  campaignTest(' (restarted rungs)', ['--rung-schedule', 'restart'], Math.max(2, Math.ceil(KILLS * 0.75)), SEED + 1);
});
