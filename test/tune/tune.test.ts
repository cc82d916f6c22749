/**
 * tune() end to end on a synthetic dataset and a tiny random ViT: grouped trials train exactly
 * as train() alone, selection never touches test, a diverging trial is recorded, an interrupted
 * tune resumed gives the summary of an uninterrupted one, and the CLI writes a tune folder whose
 * best-config.yaml `train --config` takes.
 */
import { execFile, spawn } from 'node:child_process';
import { cp, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/binding.js';
import { train } from '../../lib/index.js';
import { type TuneConfig, type TuneSummary, tune } from '../../lib/tune/tune.js';
import { resolveTuneConfig } from '../../lib/tune/tune-config.js';
import { comparable, metricsOf } from '../helpers/run-metrics.js';
import { smallTune, steady, trialsOf, useTuneTask } from '../helpers/tune-task.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'bin', 'launch.cjs');

const task = useTuneTask();

/** A summary without wall-clock time and folder paths. */
const timeless = ({ seconds: _s, final, ...rest }: TuneSummary) => ({
  ...rest,
  final: final.map(({ out: _o, ...f }) => f),
});

describe('tune()', () => {
  it('trains a group of configs exactly as train() trains each alone (loss and val to 1e-6)', async () => {
    const out = join(task.dir, 'grouped');
    const config: TuneConfig = {
      ...smallTune(task, out),
      epochs: 2,
      deep: true,
      promptDropout: 0.1,
      grid: { lr: [2, 0.5], wd: [0.001, 0] },
      groupSize: 4,
      // One after another, as train() steps (stacked steps agree to float rounding: test/tune/stacked-step.test.ts).
      stackedStep: 'off',
    };
    await tune(config);
    const trials = await trialsOf(out);
    expect(trials.every((t) => t.status === 'finished' && t.epochs.length === 2)).toBe(true);
    const specs = resolveTuneConfig(config, (id) => join(out, 'trials', id)).trials;
    // Each trial's complete train config sits beside its state.
    expect(JSON.parse(await readFile(join(out, 'trials', specs[3]!.id, 'config.json'), 'utf8'))).toEqual(
      specs[3]!.config,
    );
    for (const i of [0, 3]) {
      const { out: _o, ...alone } = specs[i]!.config;
      const dir = join(task.dir, `alone-${i}`);
      await train({ ...alone, out: dir }, { distributed: null });
      const a = comparable(await metricsOf(dir));
      const g = comparable(trials[i]!.epochs);
      expect(g.map((m) => [m.epoch, m.step, m.lr])).toEqual(a.map((m) => [m.epoch, m.step, m.lr]));
      g.forEach((m, e) => {
        expect(Math.abs(m.loss - a[e]!.loss)).toBeLessThan(1e-6);
        expect(m.top1).toBe(a[e]!.top1);
        expect(Math.abs(m.val!.loss - a[e]!.val!.loss)).toBeLessThan(1e-6);
        expect(m.val!.top1).toBe(a[e]!.val!.top1);
      });
    }
  });

  it('never reads test during the search: a test split of undecodable files does not stop it or change the choice', async () => {
    const clean = await tune(smallTune(task, join(task.dir, 'clean')));
    const poisoned = join(task.dir, 'poisoned');
    await cp(task.data, poisoned, { recursive: true });
    const test = JSON.parse(await readFile(join(poisoned, 'test.json'), 'utf8')) as Record<string, number>;
    for (const key of Object.keys(test)) await writeFile(join(poisoned, 'images', key), 'not a JPEG');
    const out = join(task.dir, 'poisoned-tune');
    const summary = await tune({ ...smallTune(task, out), data: poisoned });
    expect(summary.chosen).toEqual(clean.chosen);
    expect(summary.valTop1).toBe(clean.valTop1);
    expect((await trialsOf(out)).flatMap((t) => t.epochs).every((m) => m.test === undefined)).toBe(true);
  });

  it('records a diverging trial as failed and goes on', async () => {
    const out = join(task.dir, 'diverging');
    const summary = await tune({ ...smallTune(task, out), grid: { lr: [1e38, 1], wd: [0] } });
    const [diverged, ok] = await trialsOf(out);
    expect(diverged).toMatchObject({ status: 'failed', error: expect.stringMatching(/diverged: non-finite/) });
    expect(ok!.status).toBe('finished');
    expect(summary.chosen.id).toBe(ok!.id);
    expect(summary.trials).toEqual({ total: 2, finished: 1, pruned: 0, failed: 1 });
    expect(await readFile(join(out, 'leaderboard.md'), 'utf8')).toMatch(/failed \| 0 \| {2}\| diverged: non-finite/);
  });

  it('resumed after interrupts in the search and in the final runs, gives the summary of an uninterrupted tune', async () => {
    const config = (out: string): TuneConfig => ({
      ...smallTune(task, join(task.dir, out)),
      epochs: 2,
      prune: 'halving',
      rungs: [1],
      keep: 0.5,
      seeds: 1,
      groupSize: 2,
      // Pinned: 'auto' could time its way to the other choice in one of the two tunes (bits differ at float rounding).
      stackedStep: 'on',
    });
    const whole = await tune(config('whole'));
    const stopAfter = async (overrides: Partial<TuneConfig>, when: (steps: number, finalSteps: number) => boolean) => {
      const controller = new AbortController();
      let steps = 0,
        finalSteps = 0;
      await expect(
        tune(
          { ...config('cut'), ...overrides },
          {
            signal: controller.signal,
            onProgress: (e) => {
              if (e.type === 'trial-step') steps++;
              if (e.type === 'final' && e.event.type === 'step') finalSteps++;
              if (when(steps, finalSteps)) controller.abort();
            },
          },
        ),
      ).rejects.toThrow(/abort/i);
    };
    // Mid-epoch in the second group of the search, then mid-way through the first final run.
    await stopAfter({}, (steps) => steps === 8);
    const cut = await trialsOf(join(task.dir, 'cut'));
    expect(cut.some((t) => t.epochs.length > 0) && cut.some((t) => t.status === 'pending')).toBe(true);
    await stopAfter({ resume: true }, (_s, finalSteps) => finalSteps === 2);
    const lastCallStarted = performance.now();
    const resumed = await tune({ ...config('cut'), resume: true });
    const lastCall = (performance.now() - lastCallStarted) / 1000;
    expect(timeless(resumed)).toEqual(timeless(whole));
    // seconds counts all three calls (calls.json lists them), not only the one that finished.
    const calls = (
      JSON.parse(await readFile(join(task.dir, 'cut', 'calls.json'), 'utf8')) as { calls: Array<{ seconds: number }> }
    ).calls;
    expect(calls).toHaveLength(3);
    expect(calls[0]!.seconds).toBeGreaterThan(0);
    expect(resumed.seconds).toBeGreaterThan(lastCall);
    expect(Math.abs(resumed.seconds - calls.reduce((sum, c) => sum + c.seconds, 0))).toBeLessThan(1);
    expect(steady(await trialsOf(join(task.dir, 'cut')))).toEqual(steady(await trialsOf(join(task.dir, 'whole'))));
    expect(JSON.parse(await readFile(join(task.dir, 'cut', 'summary.json'), 'utf8')).testTop1Mean).toBe(
      whole.testTop1Mean,
    );
  });

  it('resumes from the trial states when a kill fell between a state write and the trials.jsonl write', async () => {
    const out = join(task.dir, 'state-ahead');
    const whole = await tune(smallTune(task, out));
    const records = await trialsOf(out);
    // As if killed after the last epoch's state was saved but before trials.jsonl recorded it.
    records[1] = { ...records[1]!, status: 'running', epochs: records[1]!.epochs.slice(0, 2) };
    await writeFile(join(out, 'trials.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const resumed = await tune({ ...smallTune(task, out), resume: true });
    expect(timeless(resumed)).toEqual(timeless(whole));
    expect((await trialsOf(out))[1]!.epochs).toHaveLength(3);
  });

  it("--final-on trainval retrains on train + val and reports the final runs' test top-1", async () => {
    const out = join(task.dir, 'trainval');
    const summary = await tune({
      ...smallTune(task, out),
      grid: { lr: [1], wd: [0] },
      finalOn: 'trainval',
      seeds: [5],
    });
    const trainval = join(out, 'final', 'data-trainval');
    const keys = async (dir: string, split: string) =>
      Object.keys(JSON.parse(await readFile(join(dir, `${split}.json`), 'utf8'))).sort();
    expect(await keys(trainval, 'train')).toEqual(
      [...(await keys(task.data, 'train')), ...(await keys(task.data, 'val'))].sort(),
    );
    expect(await keys(trainval, 'test')).toEqual(await keys(task.data, 'test'));
    await expect(stat(join(trainval, 'val.json'))).rejects.toThrow();
    const metrics = await metricsOf(join(out, 'final', 'seed-5'));
    expect(metrics[0]!.val).toBeUndefined();
    expect(summary.final).toEqual([
      { seed: 5, out: join(out, 'final', 'seed-5'), testTop1: metrics.at(-1)!.test!.top1, valTop1: null },
    ]);
    expect(summary).toMatchObject({ testTop1Mean: metrics.at(-1)!.test!.top1, testTop1Std: 0, finalOn: 'trainval' });
  });

  it('refuses a second tune in the same folder without --resume / --force, and a changed search on resume', async () => {
    const out = join(task.dir, 'clean');
    await expect(tune(smallTune(task, out))).rejects.toThrow(/holds a tune already/);
    await expect(tune({ ...smallTune(task, out), grid: { lr: [1], wd: [0] }, resume: true })).rejects.toThrow(
      /another search/,
    );
  });
});

describe('vpt-native tune', () => {
  it('writes the tune folder, and train --config takes its best-config.yaml', async () => {
    const out = join(task.dir, 'cli');
    const args = ['tune', '--data', task.data, '--weights', task.weights, '--out', out];
    const flags = ['--epochs', '2', '--warmup-epochs', '0', '--batch-size', '8', '--crop-size', '32'];
    const grid = [
      '--lr',
      '2,0.5',
      '--wd',
      '0.001,0',
      '--prompt-tokens',
      '2',
      '--seeds',
      '1',
      '--prune',
      'halving',
      '--rungs',
      '1',
      '--keep',
      '0.5',
    ];
    const { stdout } = await run(process.execPath, [
      cli,
      ...args,
      ...flags,
      ...grid,
      '--device',
      'cpu',
      '--workers',
      '1',
      '--quiet',
    ]);
    expect(stdout).toMatch(/^chosen t0\d-lr[\d.]+-wd[\d.]+: val top-1 /);
    for (const f of [
      'trials.jsonl',
      'leaderboard.md',
      'leaderboard.csv',
      'heatmap.png',
      'best-config.yaml',
      'summary.json',
    ])
      expect((await stat(join(out, f))).size, f).toBeGreaterThan(0);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as TuneSummary;
    // Halving over restarted rungs (the default): 4 one-epoch runs, then the 2 kept configs' 2-epoch runs.
    expect(summary).toMatchObject({
      seeds: [42],
      gridEpochs: 8,
      trialEpochs: 4 * 1 + 2 * 2,
      select: 'last',
      finalOn: 'train',
    });
    expect(summary.final[0]!.out).toBe(join(out, 'final', 'seed-42'));
    expect((await metricsOf(summary.final[0]!.out)).length).toBe(2);
    expect((await readFile(join(out, 'leaderboard.csv'), 'utf8')).split('\n')[0]).toBe(
      'rank,id,base lr,lr,wd,prompt tokens,deep,status,epochs,val top-1,note',
    );
    const again = join(task.dir, 'from-best-config');
    await run(process.execPath, [
      cli,
      'train',
      '--config',
      join(out, 'best-config.yaml'),
      '--out',
      again,
      '--epochs',
      '1',
      '--quiet',
    ]);
    const config = JSON.parse(await readFile(join(again, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      baseLr: summary.chosen.baseLr,
      weightDecay: summary.chosen.weightDecay,
      promptTokens: 2,
    });
  });

  it('Ctrl-C stops the search with exit 130 and --resume finishes it', async () => {
    const out = join(task.dir, 'cli-sigint');
    const args = [cli, 'tune', '--data', task.data, '--weights', task.weights, '--out', out, '--epochs', '3'];
    const flags = ['--warmup-epochs', '0', '--batch-size', '8', '--crop-size', '32', '--prompt-tokens', '2'];
    const rest = ['--lr', '2,0.5,0.1', '--wd', '0.001,0', '--seeds', '0', '--group-size', '2', '--device', 'cpu'];
    const child = spawn(process.execPath, [...args, ...flags, ...rest, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      if (stdout.includes('"type":"trial-epoch"') && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((done) => child.on('exit', done));
    expect(code).toBe(130);
    const cut = await trialsOf(out);
    expect(cut.some((t) => t.epochs.length > 0)).toBe(true);
    expect(cut.some((t) => t.status !== 'finished')).toBe(true);
    await run(process.execPath, [...args, ...flags, ...rest, '--resume', '--quiet']);
    expect((await trialsOf(out)).every((t) => t.status === 'finished' && t.epochs.length === 3)).toBe(true);
  });

  it('refuses a dataset whose val split is the test split, naming prepare-cub --val-fraction (exit 2 for a bad grid)', async () => {
    const plain = join(task.dir, 'plain');
    await cp(task.data, plain, { recursive: true });
    const { rm } = await import('node:fs/promises');
    await rm(join(plain, 'test.json'));
    const base = [
      cli,
      'tune',
      '--data',
      plain,
      '--weights',
      task.weights,
      '--out',
      join(task.dir, 'refused'),
      '--crop-size',
      '32',
    ];
    const refused = await run(process.execPath, [...base, '--lr', '1', '--wd', '0']).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(refused).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/no test split.*prepare-cub <dir> --val-fraction/),
    });
    const badGrid = await run(process.execPath, [...base, '--lr', '1,1']).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(badGrid).toMatchObject({ code: 2, stderr: expect.stringMatching(/grid\.lr.*1 is given twice/) });
    const seedAsCount = await run(process.execPath, [...base, '--lr', '1', '--seeds', '42']).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(seedAsCount).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/"seeds": 42 would mean 42 final runs.*--seeds 42,.*--seed-count 42/),
    });
    const tooManySeeds = await run(process.execPath, [...base, '--lr', '1', '--seed-count', '101']).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(tooManySeeds).toMatchObject({ code: 2, stderr: expect.stringMatching(/seedCount/) });
  });
});
