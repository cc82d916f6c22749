/** Events `train()` reports through `onProgress` (rank 0 only in a data-parallel run). */
import type { EpochMetrics } from './run-folder.js';
import type { TrainResult } from './train-result.js';

export type ProgressEvent =
  | { type: 'download'; file: string; received: number; total: number | null }
  | {
      type: 'start';
      epochs: number;
      startEpoch: number;
      stepsPerEpoch: number;
      trainImages: number;
      device: string;
      precision: string;
      trainableParams: number;
      out: string;
      worldSize: number;
    }
  | {
      type: 'step';
      epoch: number;
      step: number;
      stepInEpoch: number;
      stepsPerEpoch: number;
      loss: number;
      lr: number;
      imagesPerSecond: number;
    }
  | { type: 'evaluate'; epoch: number; split: 'val' | 'test' }
  /** Something the user asked for is not happening, and why (e.g. CUDA graphs falling back to eager steps). */
  | { type: 'notice'; message: string }
  | { type: 'epoch'; metrics: EpochMetrics; best: boolean }
  | { type: 'done'; result: TrainResult };

/** The `onProgress` callback, absent where nothing is reported (ranks other than 0). */
export type OnProgress = ((event: ProgressEvent) => void) | undefined;
