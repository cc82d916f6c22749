/** What `train()` returns (and writes, less the epoch list, to the run folder's summary.json). */
import type { EpochMetrics, RunFolder } from './run-folder.js';

export interface TrainResult {
  /** 1-based epoch with the best val top-1 (the last epoch when there is no val split). */
  bestEpoch: number;
  bestValTop1: number | null;
  testTop1AtBestVal: number | null;
  lastValTop1: number | null;
  lastTestTop1: number | null;
  epochs: EpochMetrics[];
  seconds: number;
  /** Training images per second, over the epochs run in this call. */
  imagesPerSecond: number;
  skippedSteps: number;
  /** Steps trained on cached backbone features (linear probing without augmentation). */
  cachedFeatureSteps: number;
  /** Steps replayed from a captured CUDA graph (`cudaGraphs`), over the epochs run in this call. */
  graphedSteps: number;
  /** Processes that trained together (1 unless data-parallel). */
  worldSize: number;
  files: RunFolder['files'];
}
