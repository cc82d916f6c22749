/**
 * Budget-complete rungs (`rungSchedule: 'restart'`), as in budgeted training (Li et al., ICLR
 * 2020) and successive halving run with a schedule fitted to each budget: at a rung of r epochs,
 * every entrant trains a complete r-epoch run, the same warmup + cosine schedule compressed to r
 * epochs, and is ranked at its end. The survivors start again from scratch at the next rung's
 * length; the last stage's train the full schedule, as a plain `train` of their config does.
 *
 * The compression scales the epochs and the warmup alike (warmupEpochs x r / epochs), so the warmup
 * is the same fraction of every run. The train loop's schedule steps per iteration by default
 * (scheduleUnit 'step'): the compressed warmup is rounded to whole steps, round(warmupEpochs x r /
 * epochs x stepsPerEpoch); per epoch (scheduleUnit 'epoch', VPT's own scheduler), to whole epochs.
 * Either way it stays below the run's length, so the run always reaches its cosine.
 */
import { dirname, join } from 'node:path';

import type { ResolvedTrainConfig } from '../config/train-config.js';
import type { Schedule } from '../train/schedule.js';
import { keptAt } from './halving.js';
import type { ResolvedTune, TrialSpec } from './tune-config.js';

/** Whether the search restarts each rung's entrants with a complete run of the rung's length. */
export function restartsRungs(t: ResolvedTune): boolean {
  return t.settings.rungSchedule === 'restart' && t.rungs.length > 0;
}

/** The run lengths of a restarted search's stages: the rungs, then the full epochs. */
export function stageBudgets(t: ResolvedTune): number[] {
  return [...t.rungs, t.base.epochs];
}

/** The id of a config's run of `budget` epochs: the config's own at the full epochs, else `<id>-e<budget>`. */
export function budgetTrialId(configId: string, budget: number, epochs: number): string {
  return budget === epochs ? configId : `${configId}-e${budget}`;
}

/**
 * The trial of `spec`'s config that trains a complete run of `budget` epochs: its schedule
 * compressed to them (epochs = budget, warmupEpochs scaled by budget / epochs), in its own folder
 * next to the config's. At the full epochs it is `spec`'s own trial (same id, folder and config).
 */
export function budgetTrial(spec: TrialSpec, budget: number): TrialSpec {
  const epochs = spec.config.epochs;
  if (budget === epochs) return { ...spec, budget };
  const id = budgetTrialId(spec.id, budget, epochs);
  const config: ResolvedTrainConfig = {
    ...spec.config,
    epochs: budget,
    warmupEpochs: (spec.config.warmupEpochs * budget) / epochs,
    out: join(dirname(spec.config.out), id),
  };
  return { ...spec, id, budget, config };
}

/**
 * A trial's lr schedule over `stepsPerEpoch` steps an epoch. A compressed run's fractional warmup
 * is rounded to whole steps (unit 'step') or epochs (unit 'epoch'), below the run's length; a
 * whole number of warmup epochs gives exactly the schedule `train` uses.
 */
export function trialSchedule(
  config: Pick<ResolvedTrainConfig, 'epochs' | 'warmupEpochs' | 'scheduleUnit'>,
  baseLr: number,
  stepsPerEpoch: number,
): Schedule {
  const { epochs, warmupEpochs, scheduleUnit: unit } = config;
  const schedule: Schedule = { baseLr, unit, warmupEpochs, epochs, stepsPerEpoch };
  if (Number.isInteger(warmupEpochs)) return schedule;
  if (unit === 'epoch') return { ...schedule, warmupEpochs: Math.min(Math.round(warmupEpochs), epochs - 1) };
  const warmupSteps = Math.min(Math.round(warmupEpochs * stepsPerEpoch), epochs * stepsPerEpoch - 1);
  return { ...schedule, warmupSteps: Math.max(0, warmupSteps) };
}

/** The trials a search's log starts with: the grid's, or (restarted rungs) the grid's runs of the first rung's length. */
export function firstStageTrials(t: ResolvedTune): TrialSpec[] {
  return restartsRungs(t) ? t.trials.map((s) => budgetTrial(s, t.rungs[0]!)) : t.trials;
}

/**
 * Config-epochs the search trains when no trial fails: each rung keeps keptAt(n, keep) of its n
 * entrants. Restarted rungs train each entrant a whole run of the rung's length; continued ones
 * train on from the rung before.
 */
export function plannedTrialEpochs(t: ResolvedTune): number {
  const restart = restartsRungs(t);
  let n = t.trials.length,
    total = 0,
    done = 0;
  for (const budget of stageBudgets(t)) {
    total += n * (restart ? budget : budget - done);
    done = budget;
    n = keptAt(n, t.settings.keep);
  }
  return total;
}
