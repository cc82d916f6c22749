/** The tune tests' task: a synthetic CUB-layout dataset with val carved from train (distinct from test) and a tiny random ViT. */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { EpochMetrics } from '../../lib/index.js';
import type { TrialRecord } from '../../lib/tune/trial-record.js';
import type { TrialEvents } from '../../lib/tune/trial-trainer.js';
import type { TuneConfig } from '../../lib/tune/tune-config.js';
import { type SyntheticTask, useSyntheticTask } from './common.js';
import { comparable } from './run-metrics.js';

/** The tune task in a temporary directory made before the calling file's tests and removed after them. */
export function useTuneTask(): SyntheticTask {
  return useSyntheticTask(
    { classes: 4, imagesPerClass: 12, imageSize: 40, seed: 5 },
    { embedDim: 24, depth: 2, numHeads: 2, patchSize: 8, imgSize: 32, seed: 2 },
    { valFraction: 0.25, seed: 1 },
  );
}

/** A small, quick search: 3 lrs x 2 wds, 3 epochs, no final runs. */
export function smallTune(task: { data: string; weights: string }, out: string): TuneConfig {
  return {
    data: task.data,
    weights: task.weights,
    out,
    epochs: 3,
    warmupEpochs: 0,
    batchSize: 8,
    cropSize: 32,
    promptTokens: 2,
    device: 'cpu',
    workers: 1,
    seed: 3,
    grid: { lr: [2, 0.5, 0.1], wd: [0.001, 0] },
    seeds: 0,
  };
}

/**
 * Trial events that record each failure as `id: error` in `failures`; `epoch` (default: ignore)
 * receives every epoch's metrics.
 */
export function recordingEvents(failures: string[], epoch: TrialEvents['epoch'] = async () => {}): TrialEvents {
  return {
    epoch,
    restored: async () => {},
    failed: async (id, error) => {
      failures.push(`${id}: ${error}`);
    },
  };
}

/** The trial records of a tune folder's trials.jsonl, in their order. */
export async function trialsOf(out: string): Promise<TrialRecord[]> {
  return (await readFile(join(out, 'trials.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TrialRecord);
}

/** Trial records without their wall-clock fields, to compare two tunes. */
export const steady = (records: TrialRecord[]) =>
  records.map(({ epochs, ...r }) => ({ ...r, epochs: comparable(epochs as EpochMetrics[]) }));
