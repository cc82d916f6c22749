/** A group of trials holds one frozen backbone (prompt / linear); full fine-tuning trials keep one each. */
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { openDataset } from '../../lib/data/dataset.js';
import type { Model } from '../../lib/model/model.js';
import { GroupTrainer } from '../../lib/tune/group-trainer.js';
import type { TrialEvents } from '../../lib/tune/trial-trainer.js';
import { resolveTuneConfig, type TuneConfig } from '../../lib/tune/tune-config.js';
import { recordingEvents, smallTune, useTuneTask } from '../helpers/tune-task.js';

const task = useTuneTask();

/** Trains one epoch of a 4-trial group and returns what its models reported before training. */
async function groupOf(config: Partial<TuneConfig>, out: string) {
  const t = resolveTuneConfig({ ...smallTune(task, out), ...config } as TuneConfig, (id) => join(out, 'trials', id));
  const dataset = await openDataset(t.base.data);
  const seen: Array<{ shared: boolean; storage: string; bytes: number }> = [];
  const failures: string[] = [];
  const trainer = new GroupTrainer({
    dataset,
    base: t.base,
    device: 'cpu',
    precision: 'fp32',
    groupSize: 4,
    onModels: (models: readonly Model[]) => {
      for (const m of models) {
        const info = m.info();
        seen.push({ shared: info.backboneShared, storage: info.backboneStorage, bytes: info.backboneBytes });
      }
    },
  });
  const events: TrialEvents = recordingEvents(failures);
  try {
    await trainer.train(
      t.trials.slice(0, 4).map((spec) => ({ spec, epochsDone: 0 })),
      1,
      events,
    );
  } finally {
    await trainer.close();
  }
  return { seen, failures };
}

describe('a group of trials', () => {
  it.each(['prompt', 'linear'] as const)(
    'holds one frozen backbone between its 4 models (transfer %s)',
    async (transfer) => {
      const { seen, failures } = await groupOf({ transfer }, join(task.dir, transfer));
      expect(failures).toEqual([]);
      expect(seen).toHaveLength(4);
      expect(seen.every((m) => m.shared && m.bytes > 0)).toBe(true);
      expect(new Set(seen.map((m) => m.storage)).size).toBe(1);
      expect(seen[0]!.storage).not.toBe('');
    },
  );

  it('gives each full fine-tuning trial its own backbone (it trains it)', async () => {
    const { seen, failures } = await groupOf(
      { transfer: 'full', grid: { lr: [0.01, 0.001], wd: [0.001, 0] } },
      join(task.dir, 'full'),
    );
    expect(failures).toEqual([]);
    expect(seen).toHaveLength(4);
    expect(seen.every((m) => !m.shared)).toBe(true);
    expect(new Set(seen.map((m) => m.storage)).size).toBe(4);
  });
});
