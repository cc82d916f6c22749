/**
 * Train statistics of one epoch (loss, top-1, images, skipped steps, time), summed step by step.
 * An epoch interrupted part-way saves them (`partial()`, the state file's `run.partial`) and the
 * resumed run carries them over, so it reports what an uninterrupted epoch would.
 */
import type { TrainStepResult } from '../model/model.js';
import type { PartialEpoch } from './resume-point.js';
import type { EpochMetrics, SplitMetrics } from './run-folder.js';

export class EpochStats {
  lossSum: number;
  correct: number;
  images: number;
  skipped: number;
  /** Seconds the epoch trained, set by `endTraining()`. */
  trainSeconds = 0;
  /** performance.now() when the epoch started, moved back by the seconds carried over. */
  readonly #start: number;

  /** A new epoch, or the rest of an interrupted one (`carried`: its saved statistics). */
  constructor(carried?: PartialEpoch) {
    this.#start = performance.now() - (carried?.seconds ?? 0) * 1000;
    this.lossSum = carried?.lossSum ?? 0;
    this.correct = carried?.correct ?? 0;
    this.images = carried?.images ?? 0;
    this.skipped = carried?.skipped ?? 0;
  }

  /** Counts one step (a skipped, non-finite one only as skipped). */
  add(r: TrainStepResult): void {
    if (r.skipped) this.skipped++;
    else {
      this.lossSum += r.loss * r.count;
      this.correct += r.correct;
      this.images += r.count;
    }
  }

  /** Seconds since the epoch started (carried-over seconds included). */
  seconds(): number {
    return (performance.now() - this.#start) / 1000;
  }

  /** Training throughput so far. */
  imagesPerSecond(): number {
    return this.images / Math.max(this.seconds(), 1e-9);
  }

  /** Marks the end of the epoch's training (evaluation follows). */
  endTraining(): void {
    this.trainSeconds = this.seconds();
  }

  /** The statistics so far, as a resumed run takes them back. */
  partial(): PartialEpoch {
    const { lossSum, correct, images, skipped } = this;
    return { lossSum, correct, images, skipped, seconds: this.seconds() };
  }

  /** The epoch's metrics.jsonl line (`epoch` 0-based; the line says epoch + 1). */
  metrics(
    epoch: number,
    step: number,
    lr: number,
    evaluated: Partial<Record<'val' | 'test', SplitMetrics>>,
  ): EpochMetrics {
    const { lossSum, correct, images, skipped } = this;
    return {
      epoch: epoch + 1,
      step,
      lr,
      train: {
        loss: images ? lossSum / images : NaN,
        top1: images ? correct / images : NaN,
        imagesPerSecond: images / this.trainSeconds,
        skippedSteps: skipped,
      },
      ...evaluated,
      seconds: this.seconds(),
    };
  }
}
