/**
 * Budget-complete rungs (rungSchedule 'restart'): a rung's run is its config's schedule
 * compressed to the rung's epochs (warmup scaled alike, rounded to whole steps or epochs); the
 * default rungs drop the grace period and keep >= 3x fewer config-epochs than the grid at 12, 18
 * and 100 epochs; 'continue' stays the default.
 */
import { describe, expect, it } from 'vitest';

import { learningRateAt } from '../../lib/train/schedule.js';
import { budgetTrial, firstStageTrials, plannedTrialEpochs, trialSchedule } from '../../lib/tune/rung-schedule.js';
import { resolveTuneConfig, type TuneConfig } from '../../lib/tune/tune-config.js';

const resolve = (c: Partial<TuneConfig>) =>
  resolveTuneConfig({ data: 'd', weights: 'w', out: 'o', batchSize: 64, ...c } as TuneConfig, (id) => `o/trials/${id}`);

describe('a rung run: the schedule compressed to the rung', () => {
  it("is the config's trial at the full epochs, else `<id>-e<r>` with epochs r and warmup x r / epochs in its own folder", () => {
    const spec = resolve({ epochs: 18, warmupEpochs: 1, grid: { lr: [1], wd: [0] } }).trials[0]!;
    expect(budgetTrial(spec, 18)).toEqual({ ...spec, budget: 18 });
    const rung = budgetTrial(spec, 6);
    expect(rung.id).toBe('t00-lr1-wd0-e6');
    expect(rung.budget).toBe(6);
    expect(rung.config).toEqual({ ...spec.config, epochs: 6, warmupEpochs: 1 / 3, out: 'o/trials/t00-lr1-wd0-e6' });
    expect([rung.baseLr, rung.weightDecay, rung.index]).toEqual([spec.baseLr, spec.weightDecay, spec.index]);
  });

  it("with whole warmup epochs is train's schedule", () => {
    const s = trialSchedule({ epochs: 18, warmupEpochs: 1, scheduleUnit: 'step' }, 0.5, 12);
    expect(s).toEqual({ baseLr: 0.5, unit: 'step', warmupEpochs: 1, epochs: 18, stepsPerEpoch: 12 });
  });

  it('per step: the warmup rounds to whole steps, and the cosine is the full one at proportional steps', () => {
    // 2 of 18 warmup epochs, 6 steps an epoch: 12 warmup steps of 108; a 6-epoch run: 4 of 36.
    const full = trialSchedule({ epochs: 18, warmupEpochs: 2, scheduleUnit: 'step' }, 1, 6);
    const rung = trialSchedule({ epochs: 6, warmupEpochs: 2 / 3, scheduleUnit: 'step' }, 1, 6);
    expect(rung.warmupSteps).toBe(4);
    const lrs = Array.from({ length: 36 }, (_, k) => learningRateAt(rung, k));
    expect(lrs.slice(0, 4)).toEqual([0.25, 0.5, 0.75, 1]);
    for (let k = 4; k < 36; k++) expect(lrs[k]).toBeCloseTo(learningRateAt(full, 3 * k), 12);
    expect(Math.max(...lrs)).toBe(1);
    // 1 of 18 warmup epochs, 12 steps an epoch, a 2-epoch run: 1.33 -> 1 warmup step.
    expect(trialSchedule({ epochs: 2, warmupEpochs: 1 / 9, scheduleUnit: 'step' }, 1, 12).warmupSteps).toBe(1);
    // Never the whole run: a 1-step run of half a warmup epoch has no warmup.
    expect(trialSchedule({ epochs: 1, warmupEpochs: 0.5, scheduleUnit: 'step' }, 1, 1).warmupSteps).toBe(0);
  });

  it("per epoch (VPT's scheduler): the warmup rounds to whole epochs, below the run's", () => {
    // KMnP/vpt's 10 of 100 warmup epochs at a 33-epoch rung: 3.3 -> 3.
    expect(trialSchedule({ epochs: 33, warmupEpochs: 3.3, scheduleUnit: 'epoch' }, 1, 5).warmupEpochs).toBe(3);
    // 1 of 2 at a 1-epoch rung: 0.5 would round to the whole run, which would then train at lr 0.
    const short = trialSchedule({ epochs: 1, warmupEpochs: 0.5, scheduleUnit: 'epoch' }, 1, 5);
    expect(short.warmupEpochs).toBe(0);
    expect(learningRateAt(short, 0)).toBe(1);
  });
});

describe('restarted rungs in the tune config', () => {
  it("defaults to 'restart', which changes nothing without halving", () => {
    expect(resolve({}).settings.rungSchedule).toBe('restart');
    const none = resolve({ rungSchedule: 'restart' });
    expect(none.rungs).toEqual([]);
    expect(firstStageTrials(none)).toEqual(none.trials);
    expect(() => resolve({ rungSchedule: 'sometimes' as 'restart' })).toThrow(/rungSchedule/);
  });

  it.each([
    // epochs, warmup, restart's default rungs, continue's (grace warmup + 1)
    [18, 1, [2, 6], [2, 6]],
    [12, 1, [1, 4], [2, 4]],
    [100, 10, [11, 33], [11, 33]],
    [9, 1, [1, 3], [2, 3]],
  ])(
    'at %i epochs (%i warmup) the default rungs keep >= 3x fewer config-epochs than the 36-config grid',
    (epochs, warmupEpochs, restart, cont) => {
      const r = resolve({ epochs, warmupEpochs, prune: 'halving', rungSchedule: 'restart' });
      const c = resolve({ epochs, warmupEpochs, prune: 'halving', rungSchedule: 'continue' });
      expect(r.rungs).toEqual(restart);
      expect(c.rungs).toEqual(cont);
      expect((36 * epochs) / plannedTrialEpochs(r)).toBeGreaterThanOrEqual(3);
      // The first stage's runs have the first rung's length.
      expect(firstStageTrials(r).every((s) => s.budget === restart[0] && s.config.epochs === restart[0])).toBe(true);
    },
  );

  it('counts the planned config-epochs of each mode', () => {
    const at18 = { epochs: 18, warmupEpochs: 1, prune: 'halving' as const };
    // Restart: 36 x 2 + 12 x 6 + 4 x 18; continue: 36 x 2 + 12 x 4 + 4 x 12; none: 36 x 18.
    expect(plannedTrialEpochs(resolve(at18))).toBe(216);
    expect(plannedTrialEpochs(resolve({ ...at18, rungSchedule: 'continue' }))).toBe(168);
    expect(plannedTrialEpochs(resolve({ epochs: 18, warmupEpochs: 1 }))).toBe(648);
    // A grace period given is kept: rungs [3, 6].
    expect(plannedTrialEpochs(resolve({ ...at18, rungSchedule: 'restart', graceEpochs: 3 }))).toBe(
      36 * 3 + 12 * 6 + 4 * 18,
    );
  });
});
