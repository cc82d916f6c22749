/**
 * A full disk during training: the 2nd epoch's state write fails (ENOSPC, injected at the write
 * through writeFileAtomic's test hook VPT_FAULT_WRITE). The run stops with VPT_IO naming the
 * file, the 1st epoch's state file is left byte for byte, no temporary file remains, and a
 * resume from it trains to the end, as the uninterrupted run does.
 */

import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { type TrainConfig, train } from '../../lib/index.js';
import { useSyntheticTask } from '../helpers/common.js';
import { comparable, metricsOf } from '../helpers/run-metrics.js';

const task = useSyntheticTask(
  { classes: 3, imagesPerClass: 6, imageSize: 40, seed: 5 },
  { embedDim: 32, depth: 2, numHeads: 2, patchSize: 8, imgSize: 32, seed: 2 },
);
afterEach(() => {
  delete process.env.VPT_FAULT_WRITE;
});

const base = (): Omit<TrainConfig, 'out'> => ({
  data: task.data,
  weights: task.weights,
  epochs: 2,
  warmupEpochs: 1,
  batchSize: 4,
  baseLr: 1,
  deep: true,
  promptTokens: 2,
  cropSize: 32,
  device: 'cpu',
  seed: 3,
  workers: 1,
});

describe('a checkpoint write on a full disk', () => {
  it('stops the run with VPT_IO naming the file, keeps the previous state, and the run resumes to the end', async () => {
    const reference = join(task.dir, 'reference');
    await train({ ...base(), out: reference });

    const out = join(task.dir, 'full-disk');
    const state = join(out, 'last.state.safetensors');
    let epoch1State: Buffer | undefined;
    const run = train(
      { ...base(), out },
      {
        onProgress: (e) => {
          // Sent after epoch 1's files are written: from here on the state file cannot be written.
          if (e.type === 'epoch' && e.metrics.epoch === 1) {
            epoch1State = readFileSync(state);
            process.env.VPT_FAULT_WRITE = 'last.state.safetensors:ENOSPC';
          }
        },
      },
    );
    const error = await run.catch((e: unknown) => e);
    delete process.env.VPT_FAULT_WRITE;
    expect(error).toMatchObject({ name: 'VptError', code: 'VPT_IO' });
    expect((error as Error).message).toContain(`cannot write ${state}`);
    expect((error as Error).message).toContain('ENOSPC');
    expect(epoch1State).toBeDefined();
    expect(await readFile(state)).toEqual(epoch1State);
    expect((await readdir(out)).filter((n) => n.endsWith('.tmp'))).toEqual([]);

    const result = await train({
      data: task.data,
      weights: task.weights,
      out,
      resume: state,
      device: 'cpu',
      workers: 1,
    });
    expect(result.epochs.map((m) => m.epoch)).toEqual([1, 2]);
    expect(comparable(await metricsOf(out))).toEqual(comparable(await metricsOf(reference)));
    expect(await readFile(state)).not.toEqual(epoch1State);
  }, 120_000);
});
