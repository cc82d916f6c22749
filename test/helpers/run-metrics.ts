import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { EpochMetrics } from '../../lib/index.js';

/** A run folder's metrics.jsonl, one entry per finished epoch. */
export async function metricsOf(dir: string): Promise<EpochMetrics[]> {
  return (await readFile(join(dir, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EpochMetrics);
}

/** The metrics two runs of the same config must agree on exactly (no wall-clock fields). */
export const comparable = (m: EpochMetrics[]) =>
  m.map(({ epoch, step, lr, train: t, val }) => ({ epoch, step, lr, loss: t.loss, top1: t.top1, val }));
