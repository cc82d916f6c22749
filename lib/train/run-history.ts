/** The metrics of a run's finished epochs (metrics.jsonl), and the best of them by val top-1. */
import type { ResumePoint } from './resume-point.js';
import type { EpochMetrics, RunFolder } from './run-folder.js';

export class RunHistory {
  readonly epochs: EpochMetrics[];
  /** The epoch with the best val top-1 so far (undefined without a val split). */
  best: EpochMetrics | undefined;

  private constructor(epochs: EpochMetrics[]) {
    this.epochs = epochs;
    this.best = epochs.reduce<EpochMetrics | undefined>(
      (b, m) => (m.val && (!b?.val || m.val.top1 > b.val.top1) ? m : b),
      undefined,
    );
  }

  /**
   * A resumed run's epochs before `resumed.epoch`: epochs finished after the state was saved (a
   * crash between the two writes) are run again. A new run starts metrics.jsonl empty (`isMain`).
   */
  static async start(run: RunFolder, resumed: ResumePoint | undefined, isMain: boolean): Promise<RunHistory> {
    if (resumed) return new RunHistory((await run.readMetrics()).filter((m) => m.epoch <= resumed.epoch));
    if (isMain) await run.writeMetrics([]);
    return new RunHistory([]);
  }

  get last(): EpochMetrics | undefined {
    return this.epochs[this.epochs.length - 1];
  }

  /** Appends a finished epoch; whether it is the new best. */
  add(metrics: EpochMetrics): boolean {
    this.epochs.push(metrics);
    const isBest = !!metrics.val && (!this.best?.val || metrics.val.top1 > this.best.val.top1);
    if (isBest) this.best = metrics;
    return isBest;
  }
}
