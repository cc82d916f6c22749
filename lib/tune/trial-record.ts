/** What trials.jsonl holds per trial: its grid point, status and per-epoch metrics (val only). */
import type { EpochMetrics } from '../train/run-folder.js';
import type { TrialSpec } from './tune-config.js';

/** 'promoted': a restarted rung's run that halving kept; its config trains again at the next rung's length. */
export type TrialStatus = 'pending' | 'running' | 'finished' | 'pruned' | 'failed' | 'promoted';

export interface TrialRecord {
  id: string;
  index: number;
  baseLr: number;
  /** The learning rate the optimizer started from (baseLr x batchSize / 256). */
  scaledLr: number;
  weightDecay: number;
  promptTokens: number;
  deep: boolean;
  status: TrialStatus;
  /** The rung (epochs trained) at which halving stopped it. */
  prunedAt?: number;
  /**
   * With rungSchedule 'restart' (rung-schedule.ts): the epochs of this trial's complete run, the
   * rung's or the full epochs; one record per config and run length, ids `<config id>-e<budget>`
   * below the full epochs.
   */
  budget?: number;
  /** A promoted run's next stage: the epochs of its config's next run. */
  promotedTo?: number;
  /** Why it failed (an error, or the non-finite loss that ended it). */
  error?: string;
  /** One entry per epoch trained: train loss / top-1 and val metrics (test is never evaluated in the search). */
  epochs: EpochMetrics[];
}

export function newRecord(t: TrialSpec): TrialRecord {
  const { id, index, baseLr, scaledLr, weightDecay, promptTokens, deep, budget } = t;
  return {
    id,
    index,
    baseLr,
    scaledLr,
    weightDecay,
    promptTokens,
    deep,
    ...(budget === undefined ? {} : { budget }),
    status: 'pending',
    epochs: [],
  };
}

/** Val top-1 after `epochs` epochs (1-based count), if the trial got that far. */
export function valTop1At(r: TrialRecord, epochs: number): number | undefined {
  return r.epochs[epochs - 1]?.val?.top1;
}

/** The trial's score under a selection rule: the last epoch's val top-1, or the best epoch's. */
export function selectionScore(r: TrialRecord, select: 'last' | 'best'): number | undefined {
  if (!r.epochs.length) return undefined;
  if (select === 'last') return r.epochs.at(-1)!.val?.top1;
  const scores = r.epochs.map((m) => m.val?.top1).filter((v): v is number => v !== undefined && Number.isFinite(v));
  return scores.length ? Math.max(...scores) : undefined;
}
