/** Training totals over the epochs run in this call (a resumed run counts from where it resumed). */
import type { EpochStats } from './epoch-stats.js';

export class RunTotals {
  images = 0;
  seconds = 0;
  skipped = 0;

  /** Adds a finished epoch's training (after `stats.endTraining()`). */
  add(stats: EpochStats): void {
    this.images += stats.images;
    this.seconds += stats.trainSeconds;
    this.skipped += stats.skipped;
  }

  get imagesPerSecond(): number {
    return this.seconds ? this.images / this.seconds : 0;
  }
}
