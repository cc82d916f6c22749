/** What the search asks of a trainer: train a group of trials from where each stands up to an epoch. */
import type { EpochMetrics } from '../train/run-folder.js';
import type { TrialSpec } from './tune-config.js';

/** A trial to train, and the epochs it has trained (its state file holds them). */
export interface TrialRun {
  spec: TrialSpec;
  epochsDone: number;
}

export interface TrialEvents {
  /** After each epoch of a trial (its state is saved first). */
  epoch(id: string, metrics: EpochMetrics): Promise<void>;
  /** A resumed trial's state holds these epochs (they replace the recorded ones). */
  restored(id: string, epochs: EpochMetrics[]): Promise<void>;
  /** The trial cannot go on (an error, a non-finite loss); the others do. */
  failed(id: string, error: string): Promise<void>;
}

export interface TrialTrainer {
  /** How many trials `train` takes at once. */
  readonly groupSize: number;
  /** Trains every run (all at the same `epochsDone`) up to `until` epochs; rejects only with an AbortError or an error of the whole group (the data). */
  train(runs: TrialRun[], until: number, events: TrialEvents, signal?: AbortSignal): Promise<void>;
}
