/**
 * tune's stacked group step: a tune with the group's steps stacked trains as one that steps them
 * one after another (val top-1 equal, losses to 1e-5), 'auto' times both ways and saves its
 * decision (a resume takes it from the file), and where the trials cannot step together the
 * decision says why.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { openDataset } from '../../lib/data/dataset.js';
import { GroupTrainer } from '../../lib/tune/group-trainer.js';
import type { StackedStepDecision, StackedStepMode } from '../../lib/tune/stacked-step.js';
import type { TrialRecord } from '../../lib/tune/trial-record.js';
import type { TrialEvents } from '../../lib/tune/trial-trainer.js';
import { type TuneConfig, tune } from '../../lib/tune/tune.js';
import { resolveTuneConfig } from '../../lib/tune/tune-config.js';
import { recordingEvents, smallTune, trialsOf, useTuneTask } from '../helpers/tune-task.js';

/** fp32: the stacked forward batches the trials' matmuls; the losses agree to float rounding. */
const TOL = 1e-5;

const task = useTuneTask();

const search = (out: string, stackedStep: StackedStepMode, extra: Partial<TuneConfig> = {}): TuneConfig => ({
  ...smallTune(task, out),
  epochs: 2,
  deep: true,
  promptDropout: 0.1,
  grid: { lr: [2, 0.5], wd: [0.001, 0] },
  groupSize: 4,
  stackedStep,
  ...extra,
});

/** Every trial's per-epoch metrics agree: val top-1 and step counts exactly, losses to TOL. */
function expectSameTrials(got: TrialRecord[], want: TrialRecord[]) {
  expect(got.map((r) => [r.id, r.status, r.epochs.length])).toEqual(want.map((r) => [r.id, r.status, r.epochs.length]));
  for (const [i, r] of want.entries()) {
    for (const [e, m] of r.epochs.entries()) {
      const g = got[i]!.epochs[e]!;
      expect(g.step).toBe(m.step);
      expect(g.val?.top1, `${r.id} epoch ${e}`).toBe(m.val?.top1);
      expect(Math.abs(g.train.loss - m.train.loss), `${r.id} epoch ${e} train loss`).toBeLessThanOrEqual(TOL);
      expect(Math.abs(g.val!.loss - m.val!.loss), `${r.id} epoch ${e} val loss`).toBeLessThanOrEqual(TOL);
    }
  }
}

describe('tune --stacked-step', () => {
  it('on gives the trials, leaderboard and choice of off (losses to 1e-5); summary.json says which ran', async () => {
    const on = join(task.dir, 'on'),
      off = join(task.dir, 'off');
    const a = await tune(search(on, 'on'));
    const b = await tune(search(off, 'off'));
    expect(a.stackedStep).toEqual({ mode: 'on', on: true });
    expect(b.stackedStep).toEqual({
      mode: 'off',
      on: false,
      reason: "as asked (--stacked-step off, stackedStep: 'off')",
    });
    expectSameTrials(await trialsOf(on), await trialsOf(off));
    expect(a.chosen).toEqual(b.chosen);
    expect(a.valTop1).toBe(b.valTop1);
    expect(await readFile(join(on, 'leaderboard.csv'), 'utf8')).toEqual(
      await readFile(join(off, 'leaderboard.csv'), 'utf8'),
    );
    expect(JSON.parse(await readFile(join(on, 'stacked-step.json'), 'utf8'))).toEqual(a.stackedStep);
  });

  it('auto times both ways, decides, and saves the decision with its timings', async () => {
    const out = join(task.dir, 'auto');
    const events: StackedStepDecision[] = [];
    const s = await tune(search(out, 'auto', { epochs: 1 }), {
      onProgress: (e) => e.type === 'stacked-step' && events.push(e.decision),
    });
    const d = s.stackedStep!;
    expect(d.mode).toBe('auto');
    expect(d.stackedMs).toBeGreaterThan(0);
    expect(d.separateMs).toBeGreaterThan(0);
    expect(d.on).toBe(d.stackedMs! < d.separateMs!);
    expect(events).toEqual([d]);
    expect(JSON.parse(await readFile(join(out, 'stacked-step.json'), 'utf8'))).toEqual(d);
  });
});

describe('GroupTrainer stackedStep', () => {
  async function trainGroup(config: Partial<TuneConfig>, mode: StackedStepMode, out: string, file?: string) {
    const t = resolveTuneConfig({ ...search(out, mode), epochs: 1, ...config } as TuneConfig, (id) =>
      join(out, 'trials', id),
    );
    const trainer = new GroupTrainer({
      dataset: await openDataset(t.base.data),
      base: t.base,
      device: 'cpu',
      precision: config.precision ?? 'fp32',
      groupSize: t.trials.length,
      stackedStep: mode,
      ...(file ? { stackedStepFile: file } : {}),
    });
    const failures: string[] = [];
    const events: TrialEvents = recordingEvents(failures);
    try {
      await trainer.train(
        t.trials.map((spec) => ({ spec, epochsDone: 0 })),
        1,
        events,
      );
    } finally {
      await trainer.close();
    }
    expect(failures).toEqual([]);
    return trainer.stackedStep!;
  }

  it("auto takes a saved decision (a resume's, whichever mode made it) instead of timing again", async () => {
    const decisions: StackedStepDecision[] = [
      { mode: 'auto', on: false, stackedMs: 2, separateMs: 1 },
      { mode: 'auto', on: true, stackedMs: 2, separateMs: 1 },
      { mode: 'on', on: true },
    ];
    for (const [i, saved] of decisions.entries()) {
      const file = join(task.dir, `saved-${i}.json`);
      await writeFile(file, JSON.stringify(saved));
      expect(await trainGroup({}, 'auto', join(task.dir, `saved-${i}`), file)).toEqual(saved);
    }
  });

  it.each([
    [
      'full fine-tuning',
      { transfer: 'full', grid: { lr: [0.01, 0.001], wd: [0] } },
      /cannot step together: .*prompt and linear/,
    ],
    ['bf16', { precision: 'bf16' }, /cannot step together: .*bf16/],
    ['one trial per group', { grid: { lr: [1], wd: [0] } }, /one trial per group/],
  ] as const)('falls back to one after another for %s, saying why', async (_name, config, why) => {
    const d = await trainGroup(config as Partial<TuneConfig>, 'on', join(task.dir, `fallback-${_name}`));
    expect(d.on).toBe(false);
    expect(d.reason).toMatch(why);
  });

  it('stacks the trials of each prompt shape apart, saying so', async () => {
    const d = await trainGroup(
      { grid: { lr: [1, 0.5], wd: [0], promptTokens: [2, 3] } },
      'on',
      join(task.dir, 'shapes'),
    );
    expect(d.on).toBe(true);
    expect(d.reason).toMatch(/another prompt tokens \(2 vs 3\)/);
  });
});
