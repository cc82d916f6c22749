/**
 * A stacked step that fails as a whole (out of device memory, say: nothing stepped) leaves the
 * group stepping one after another, saying why; no trial fails and they train as with 'off'.
 */
import { join } from 'node:path';

import { describe, expect, it, vi } from 'vitest';

import { openDataset } from '../../lib/data/dataset.js';
import { ErrorCode, VptError } from '../../lib/errors.js';
import type { EpochMetrics } from '../../lib/train/run-folder.js';
import { GroupTrainer } from '../../lib/tune/group-trainer.js';
import type { StackedStepDecision, StackedStepMode } from '../../lib/tune/stacked-step.js';
import { resolveTuneConfig, type TuneConfig } from '../../lib/tune/tune-config.js';
import { comparable } from '../helpers/run-metrics.js';
import { recordingEvents, smallTune, useTuneTask } from '../helpers/tune-task.js';

const failing = vi.hoisted(() => ({ calls: 0 }));
vi.mock('../../lib/model/grouped-step.js', async (original) => ({
  ...(await original<typeof import('../../lib/model/grouped-step.js')>()),
  trainStepGrouped: async () => {
    failing.calls++;
    throw new VptError(ErrorCode.OutOfMemory, 'out of device memory (a test stand-in)');
  },
}));

const task = useTuneTask();

async function trainGroup(mode: StackedStepMode, out: string) {
  const config: TuneConfig = {
    ...smallTune(task, out),
    epochs: 2,
    grid: { lr: [1, 0.5], wd: [0] },
    stackedStep: mode,
  };
  const t = resolveTuneConfig(config, (id) => join(out, 'trials', id));
  const decisions: StackedStepDecision[] = [];
  const trainer = new GroupTrainer({
    dataset: await openDataset(t.base.data),
    base: t.base,
    device: 'cpu',
    precision: 'fp32',
    groupSize: 2,
    stackedStep: mode,
    onStackedStep: (d) => decisions.push(d),
  });
  const epochs = new Map<string, EpochMetrics[]>();
  const failures: string[] = [];
  try {
    await trainer.train(
      t.trials.map((spec) => ({ spec, epochsDone: 0 })),
      2,
      recordingEvents(failures, async (id, m) => {
        epochs.set(id, [...(epochs.get(id) ?? []), m]);
      }),
    );
  } finally {
    await trainer.close();
  }
  const steady = [...epochs].map(([id, ms]) => [id, comparable(ms)]);
  return { decisions, failures, steady };
}

describe('a failed stacked step', () => {
  it('falls back to one after another for the rest of the call, saying why; the trials train as with off', async () => {
    const on = await trainGroup('on', join(task.dir, 'on'));
    expect(failing.calls).toBe(1);
    expect(on.failures).toEqual([]);
    expect(on.decisions.map((d) => d.on)).toEqual([true, false]);
    expect(on.decisions[1]!.reason).toMatch(/a stacked step failed.*out of device memory/);
    const off = await trainGroup('off', join(task.dir, 'off'));
    expect(on.steady).toEqual(off.steady);
  });
});
