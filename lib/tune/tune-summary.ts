/** summary.json of a tune folder. */
import type { FinalRun } from './final-runs.js';
import type { StackedStepDecision } from './stacked-step.js';
import type { TrialRecord } from './trial-record.js';

export interface TuneSummary {
  /** The chosen grid point (lr is the scaled one the optimizer starts from). */
  chosen: {
    id: string;
    baseLr: number;
    lr: number;
    weightDecay: number;
    promptTokens: number;
    deep: boolean;
  };
  select: 'last' | 'best';
  /** The chosen trial's val top-1 under `select`. */
  valTop1: number;
  /** Mean and population standard deviation (numpy's np.std) of the final runs' last-epoch test top-1; null without final runs. */
  testTop1Mean: number | null;
  testTop1Std: number | null;
  seeds: number[];
  finalOn: 'train' | 'trainval';
  final: FinalRun[];
  /** Epochs the search trained, over every config (pruned and failed ones' included). */
  trialEpochs: number;
  /** Configs x epochs: what the search would train without pruning. */
  gridEpochs: number;
  trials: { total: number; finished: number; pruned: number; failed: number };
  /**
   * Whether the search stacked each group's steps (`stackedStep`), and with 'auto' the measured ms
   * per group step each way (rank 0's, from stacked-step.json; absent when no trial stepped).
   */
  stackedStep?: StackedStepDecision;
  /** Wall time of the whole tune: every tune() call of it, a resumed one's earlier calls included (calls.json lists them). */
  seconds: number;
}

export function meanStd(values: number[]): { mean: number; std: number } | null {
  if (!values.length) return null;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  return { mean, std };
}

export function chosenOf(r: TrialRecord): TuneSummary['chosen'] {
  return {
    id: r.id,
    baseLr: r.baseLr,
    lr: r.scaledLr,
    weightDecay: r.weightDecay,
    promptTokens: r.promptTokens,
    deep: r.deep,
  };
}
