/** Events `tune()` reports through `onProgress`. */
import type { ProgressEvent } from '../train/progress-event.js';
import type { StackedStepDecision } from './stacked-step.js';
import type { TrialRecord } from './trial-record.js';
import type { TuneSummary } from './tune-summary.js';

export type TuneProgressEvent =
  /** The search starts (or resumes): how much there is to train. */
  | {
      type: 'search';
      trials: number;
      epochs: number;
      groupSize: number;
      stepsPerEpoch: number;
      /** Config-epochs already trained (a resumed search). */
      trialEpochs: number;
      rungs: number[];
      /** Present when the rungs train complete runs of their own length (rungSchedule 'restart'). */
      rungSchedule?: 'restart';
      /** Config-epochs the search trains if no trial fails (with halving: what the rungs keep). */
      plannedTrialEpochs: number;
      out: string;
    }
  /** Whether the groups' steps are stacked (decided at the first step; again if a stacked step fails). */
  | { type: 'stacked-step'; decision: StackedStepDecision }
  /** A step of one trial in a group. */
  | { type: 'trial-step' }
  /** A trial finished an epoch (its val metrics are in the record's last epoch). */
  | { type: 'trial-epoch'; trial: TrialRecord }
  /** A trial finished, was pruned, promoted (a restarted rung's run) or failed. */
  | { type: 'trial-status'; trial: TrialRecord }
  /** The config the final runs retrain, chosen on val. */
  | { type: 'chosen'; trial: TrialRecord; valTop1: number }
  /** A final run's own progress (`train()`'s events). */
  | { type: 'final'; seed: number; event: ProgressEvent }
  | { type: 'done'; summary: TuneSummary };
