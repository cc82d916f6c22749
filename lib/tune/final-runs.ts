/**
 * The final stage: the chosen config retrained once per seed with `train()`, each a run folder
 * under final/seed-<seed>/. A seed whose run finished is read back; one interrupted continues
 * from its state.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { ResolvedTrainConfig, TrainConfig } from '../config/train-config.js';
import type { ProgressEvent } from '../train/progress-event.js';
import { RunFolder } from '../train/run-folder.js';
import { train } from '../train/train.js';

export interface FinalRun {
  seed: number;
  out: string;
  /** Test top-1 after the last epoch (VPT reports the last epoch, never a test-selected one). */
  testTop1: number | null;
  /** Val top-1 after the last epoch (none when the runs train on train + val). */
  valTop1: number | null;
}

export interface FinalOptions {
  config: ResolvedTrainConfig;
  seeds: number[];
  /** Dataset the runs train on (the original, or the train + val one). */
  data: string;
  dir: string;
  signal?: AbortSignal;
  onProgress?: (seed: number, event: ProgressEvent) => void;
}

export async function runFinal(o: FinalOptions): Promise<FinalRun[]> {
  const runs: FinalRun[] = [];
  const { out: _out, resume: _resume, ...shared } = o.config;
  for (const seed of o.seeds) {
    const folder = new RunFolder(join(o.dir, `seed-${seed}`));
    const config: TrainConfig = { ...shared, seed, data: o.data, out: folder.dir };
    if (!existsSync(folder.files.summary)) {
      const resume = existsSync(folder.files.lastState) ? { resume: folder.files.lastState } : {};
      o.signal?.throwIfAborted();
      await train(
        { ...config, ...resume },
        {
          overwrite: !resume.resume,
          distributed: null,
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.onProgress ? { onProgress: (e: ProgressEvent) => o.onProgress!(seed, e) } : {}),
        },
      );
    }
    const summary = JSON.parse(await readFile(folder.files.summary, 'utf8')) as {
      lastTestTop1: number | null;
      lastValTop1: number | null;
    };
    runs.push({ seed, out: folder.dir, testTop1: summary.lastTestTop1, valTop1: summary.lastValTop1 });
  }
  return runs;
}
