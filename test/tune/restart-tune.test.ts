/**
 * tune() with halving over restarted, budget-complete rungs (rungSchedule 'restart') end to end
 * on the synthetic task: the last stage's runs equal the full grid's trials of the same configs
 * (to 1e-6, as grouped trials equal train()), the tune folder reports every run, and a tune
 * interrupted in its second stage and resumed gives the records and summary of an uninterrupted one.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { type TuneConfig, type TuneSummary, tune } from '../../lib/tune/tune.js';
import { comparable } from '../helpers/run-metrics.js';
import { smallTune, steady, trialsOf, useTuneTask } from '../helpers/tune-task.js';

const task = useTuneTask();

const timeless = ({ seconds: _s, final, ...rest }: TuneSummary) => ({
  ...rest,
  final: final.map(({ out: _o, ...f }) => f),
});

/** 6 configs x 3 epochs (1 warmup); restart: 6 runs of 1 epoch, then the best 3 over the full 3. */
const restartTune = (out: string): TuneConfig => ({
  ...smallTune(task, join(task.dir, out)),
  warmupEpochs: 1,
  prune: 'halving',
  rungSchedule: 'restart',
  rungs: [1],
  keep: 0.5,
  groupSize: 3,
  // One after another, as train() steps (stacked steps agree to float rounding).
  stackedStep: 'off',
});

describe('tune() with restarted rungs', () => {
  it("trains complete runs per rung, the last stage's equal to the full grid's trials, and reports every run", async () => {
    const summary = await tune(restartTune('restart'));
    const grid = await tune({ ...restartTune('grid'), prune: 'none' });
    const out = join(task.dir, 'restart');
    const trials = await trialsOf(out);
    expect(trials.map((t) => [t.id, t.budget, t.epochs.length])).toEqual([
      ['t00-lr2-wd0.001-e1', 1, 1],
      ['t01-lr2-wd0-e1', 1, 1],
      ['t02-lr0.5-wd0.001-e1', 1, 1],
      ['t03-lr0.5-wd0-e1', 1, 1],
      ['t04-lr0.1-wd0.001-e1', 1, 1],
      ['t05-lr0.1-wd0-e1', 1, 1],
      ...trials.slice(6).map((t) => [t.id.replace(/-e1$/, ''), 3, 3]),
    ]);
    expect(trials.slice(6)).toHaveLength(3);
    expect(trials.filter((t) => t.status === 'promoted').map((t) => `${t.id.slice(0, 3)}:${t.promotedTo}`)).toEqual(
      trials.slice(6).map((t) => `${t.id.slice(0, 3)}:3`),
    );
    // The last stage: each a plain 3-epoch run of its config, as the grid trained it.
    const gridTrials = new Map((await trialsOf(join(task.dir, 'grid'))).map((t) => [t.id, t]));
    for (const t of trials.slice(6)) {
      expect(t.status).toBe('finished');
      const a = comparable(gridTrials.get(t.id)!.epochs);
      const g = comparable(t.epochs);
      expect(g.map((m) => [m.epoch, m.step, m.lr])).toEqual(a.map((m) => [m.epoch, m.step, m.lr]));
      g.forEach((m, e) => {
        expect(Math.abs(m.loss - a[e]!.loss)).toBeLessThan(1e-6);
        expect(Math.abs(m.val!.loss - a[e]!.val!.loss)).toBeLessThan(1e-6);
        expect(m.val!.top1).toBe(a[e]!.val!.top1);
      });
    }
    // A 1-epoch run ends its cosine: its last step's lr is below the full run's after 1 epoch.
    const short = trials[0]!.epochs[0]!.lr;
    expect(short).toBeLessThan(gridTrials.get('t00-lr2-wd0.001')!.epochs[0]!.lr);
    // Every epoch trained counts, in all stages; the counts are per config.
    expect(summary.trialEpochs).toBe(6 * 1 + 3 * 3);
    expect(summary.gridEpochs).toBe(18);
    expect(summary.trials).toEqual({ total: 6, finished: 3, pruned: 3, failed: 0 });
    // The choice: the best finished run on val, as the grid's ranking of those configs.
    const finished = trials
      .slice(6)
      .sort((a, b) => b.epochs[2]!.val!.top1 - a.epochs[2]!.val!.top1 || a.baseLr - b.baseLr);
    expect(summary.chosen.id).toBe(finished[0]!.id);
    expect(summary.valTop1).toBe(gridTrials.get(summary.chosen.id)!.epochs[2]!.val!.top1);
    expect(grid.trialEpochs).toBe(18);
    const board = await readFile(join(out, 'leaderboard.md'), 'utf8');
    expect(board).toMatch(/\| promoted \| 1 \| [\d.]+ \| 1-epoch run, promoted to the 3-epoch run \|/);
    expect(board).toMatch(/\| pruned \| 1 \| [\d.]+ \| 1-epoch run, not promoted \|/);
    expect((await stat(join(out, 'heatmap.png'))).size).toBeGreaterThan(0);
    expect(await readFile(join(out, 'best-config.yaml'), 'utf8')).toMatch(/^epochs: 3$/m);
    // Each run in its own folder with its compressed config: 1 epoch, 1/3 warmup epoch.
    const rungConfig = JSON.parse(await readFile(join(out, 'trials', 't00-lr2-wd0.001-e1', 'config.json'), 'utf8'));
    expect([rungConfig.epochs, rungConfig.warmupEpochs]).toEqual([1, 1 / 3]);
  });

  it('resumed after an interrupt in its second stage, gives the records and summary of an uninterrupted tune', async () => {
    const whole = await tune(restartTune('whole'));
    const controller = new AbortController();
    let epochs = 0;
    await expect(
      tune(restartTune('cut'), {
        signal: controller.signal,
        onProgress: (e) => {
          // The 6 one-epoch runs, then 2 epochs of the second stage's first group.
          if (e.type === 'trial-epoch' && ++epochs === 8) controller.abort();
        },
      }),
    ).rejects.toThrow(/abort/i);
    const cut = await trialsOf(join(task.dir, 'cut'));
    expect(cut.filter((t) => t.budget === 3).some((t) => t.epochs.length > 0 && t.status === 'running')).toBe(true);
    // Resuming it with its rungs continued would be another search: refused.
    await expect(tune({ ...restartTune('cut'), rungSchedule: 'continue', resume: true })).rejects.toThrow(
      /written for another search/,
    );
    const resumed = await tune({ ...restartTune('cut'), resume: true });
    expect(timeless(resumed)).toEqual(timeless(whole));
    expect(steady(await trialsOf(join(task.dir, 'cut')))).toEqual(steady(await trialsOf(join(task.dir, 'whole'))));
  });

  it('writes rungSchedule to tune.json only where rungs restart, so a tune folder from before the option resumes', async () => {
    const none = join(task.dir, 'none-record');
    await tune({ ...restartTune('none-record'), prune: 'none' });
    expect(JSON.parse(await readFile(join(none, 'tune.json'), 'utf8')).settings).not.toHaveProperty('rungSchedule');
    const cont = join(task.dir, 'continue-record');
    await tune({ ...restartTune('continue-record'), rungSchedule: 'continue' });
    expect(JSON.parse(await readFile(join(cont, 'tune.json'), 'utf8')).settings).not.toHaveProperty('rungSchedule');
    await tune(restartTune('restart-record'));
    const restart = JSON.parse(await readFile(join(task.dir, 'restart-record', 'tune.json'), 'utf8'));
    expect(restart.settings.rungSchedule).toBe('restart');
  });
});
