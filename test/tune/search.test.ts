/**
 * The search on a scripted trainer: successive halving keeps ceil(n x keep) per rung by val
 * top-1 (ties to the smaller lr), the survivors train to the end, failures are recorded and the
 * search goes on, and a resumed search takes the same decisions.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { rungSurvivors } from '../../lib/tune/halving.js';
import { runSearch } from '../../lib/tune/run-search.js';
import { TrialLog } from '../../lib/tune/trial-log.js';
import { resolveTuneConfig, type TuneConfig } from '../../lib/tune/tune-config.js';
import { tempDir } from '../helpers/common.js';
import { type Script, ScriptedTrainer } from '../helpers/scripted-trainer.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

// Halving over continued rungs (rungSchedule 'continue'); restarted rungs: restart-search.test.ts.
const config = (c: Partial<TuneConfig>): TuneConfig =>
  ({
    data: 'd',
    weights: 'w',
    out: 'o',
    epochs: 9,
    warmupEpochs: 0,
    batchSize: 256,
    rungSchedule: 'continue',
    ...c,
  }) as TuneConfig;

/** A trial's quality from its lr and wd: the scripted val top-1 grows with it and with the epoch. */
function quality(id: string): number {
  const [, lr, wd] = /lr([\d.e-]+)-wd([\d.e-]+)/.exec(id)!;
  return 1 / (1 + Math.abs(Math.log10(Number(lr)))) - Number(wd);
}
const rising: Script = (id, epoch) => Math.min(1, quality(id) * (0.5 + epoch / 18));

async function search(c: Partial<TuneConfig>, script: Script, groupSize = 4, file = 'trials.jsonl') {
  const t = resolveTuneConfig(config(c), (id) => id);
  const log = await TrialLog.open(join(tmp.dir, file), t.trials);
  const trainer = new ScriptedTrainer(groupSize, script);
  await runSearch(t, log, trainer);
  return { t, log, trainer };
}

describe('successive halving', () => {
  it('keeps the best third at each rung, trains the survivors to the end and records the rest as pruned', async () => {
    const { t, log, trainer } = await search({ prune: 'halving' }, rising);
    expect(t.rungs).toEqual([1, 3]);
    const byStatus = (s: string) => log.records.filter((r) => r.status === s);
    // 36 -> 12 at epoch 1 -> 4 at epoch 3, which train to 9.
    expect(byStatus('finished')).toHaveLength(4);
    expect(
      byStatus('pruned')
        .map((r) => r.prunedAt)
        .sort(),
    ).toEqual([...Array(24).fill(1), ...Array(8).fill(3)]);
    const epochs = log.records.reduce((n, r) => n + r.epochs.length, 0);
    expect(epochs).toBe(36 * 1 + 12 * 2 + 4 * 6);
    expect((36 * 9) / epochs).toBeGreaterThanOrEqual(3);
    // The 4 finished are the 4 best by quality (which orders every epoch alike): lr 1, wd 0 first.
    const best = [...log.records].sort((a, b) => quality(b.id) - quality(a.id) || a.baseLr - b.baseLr).slice(0, 4);
    expect(
      byStatus('finished')
        .map((r) => r.id)
        .sort(),
    ).toEqual(best.map((r) => r.id).sort());
    // Groups of at most 4 trials at the same epoch; each stage trains only the trials still in.
    expect(trainer.calls.every((c) => c.ids.length <= 4)).toBe(true);
    expect(trainer.calls.filter((c) => c.until === 1).flatMap((c) => c.ids)).toHaveLength(36);
    expect(trainer.calls.filter((c) => c.until === 3).flatMap((c) => c.ids)).toHaveLength(12);
    expect(trainer.calls.filter((c) => c.until === 9).flatMap((c) => c.ids)).toHaveLength(4);
  });

  it('breaks ties at a rung toward the smaller lr', async () => {
    const { log } = await search(
      { prune: 'halving', grid: { lr: [10, 1, 0.1, 0.01], wd: [0] }, keep: 0.5, rungs: [2] },
      () => 0.5,
    );
    expect(log.records.filter((r) => r.status === 'finished').map((r) => r.baseLr)).toEqual([0.1, 0.01]);
  });

  it('breaks equal val top-1 at a rung toward the lower val loss, before the lr', async () => {
    // All at 0.5 val top-1 (as a tiny val split makes), the larger lr with the lower val loss.
    const t = resolveTuneConfig(
      config({ prune: 'halving', grid: { lr: [10, 1, 0.1, 0.01], wd: [0] }, keep: 0.5, rungs: [2] }),
      (id) => id,
    );
    const log = await TrialLog.open(join(tmp.dir, 'loss-ties.jsonl'), t.trials);
    const lossOf = (id: string) => 1 / Number(/lr([\d.e-]+)-wd/.exec(id)![1]);
    const trainer = new ScriptedTrainer(4, () => 0.5);
    const withLoss = {
      groupSize: 4,
      train: (
        runs: Parameters<ScriptedTrainer['train']>[0],
        until: number,
        events: Parameters<ScriptedTrainer['train']>[2],
      ) =>
        trainer.train(runs, until, {
          ...events,
          epoch: (id, m) => events.epoch(id, { ...m, val: { ...m.val!, loss: lossOf(id) } }),
        }),
    };
    await runSearch(t, log, withLoss);
    expect(log.records.filter((r) => r.status === 'finished').map((r) => r.baseLr)).toEqual([10, 1]);
    // Equal losses too: the smaller lr (the test above); a better val top-1 outranks any loss.
    const better = await search(
      { prune: 'halving', grid: { lr: [10, 1, 0.1, 0.01], wd: [0] }, keep: 0.25, rungs: [2] },
      (id) => (id.includes('lr10-') ? 0.6 : 0.5),
      4,
      'top1-first.jsonl',
    );
    expect(better.log.records.filter((r) => r.status === 'finished').map((r) => r.baseLr)).toEqual([10]);
  });

  it('ranks no config before its grace period: with a warmup epoch the first rung waits for epoch 2', async () => {
    // Epoch 1 (the warmup) favours lr 10; from epoch 2 on, lr 1 leads.
    const script: Script = (id, epoch) => (epoch === 1 ? (id.includes('lr10-') ? 0.9 : 0.1) : rising(id, epoch));
    const { t, log } = await search(
      { prune: 'halving', warmupEpochs: 1, grid: { lr: [10, 1, 0.1], wd: [0] }, keep: 1 / 3 },
      script,
      4,
      'grace.jsonl',
    );
    expect(t.rungs).toEqual([2, 3]);
    expect(log.records.filter((r) => r.status === 'finished').map((r) => r.baseLr)).toEqual([1]);
    expect(log.records.filter((r) => r.status === 'pruned').map((r) => r.prunedAt)).toEqual([2, 2]);
  });

  it('follows a custom keep fraction and rungs', async () => {
    const { log } = await search(
      { prune: 'halving', grid: { lr: [5, 2, 1, 0.5, 0.2], wd: [0, 0.001] }, keep: 0.5, rungs: [2, 4] },
      rising,
    );
    // 10 -> 5 at epoch 2 -> 3 at epoch 4.
    expect(log.records.filter((r) => r.prunedAt === 2)).toHaveLength(5);
    expect(log.records.filter((r) => r.prunedAt === 4)).toHaveLength(2);
    expect(log.records.filter((r) => r.status === 'finished')).toHaveLength(3);
  });

  it('without pruning trains every config to the end', async () => {
    const { log } = await search({ grid: { lr: [1, 0.1], wd: [0, 0.1] } }, rising);
    expect(log.records.every((r) => r.status === 'finished' && r.epochs.length === 9)).toBe(true);
  });

  it('records a failing trial with its error and goes on', async () => {
    const script: Script = (id, epoch) =>
      id.includes('lr10-') && epoch === 2 ? new Error('diverged: non-finite loss') : rising(id, epoch);
    const { log } = await search({ grid: { lr: [10, 1], wd: [0] } }, script);
    expect(log.records.map((r) => [r.status, r.epochs.length, r.error])).toEqual([
      ['failed', 1, 'diverged: non-finite loss'],
      ['finished', 9, undefined],
    ]);
  });

  it('a resumed search makes the same decisions and retrains no finished trial', async () => {
    const c: Partial<TuneConfig> = { prune: 'halving' };
    const whole = await search(c, rising, 5, 'whole.jsonl');
    // Stop after a few groups: the trainer aborts on its 10th call.
    const t = resolveTuneConfig(config(c), (id) => id);
    const path = join(tmp.dir, 'cut.jsonl');
    const first = new ScriptedTrainer(5, rising);
    let calls = 0;
    const cutting = {
      groupSize: 5,
      train: async (...args: Parameters<ScriptedTrainer['train']>) => {
        if (++calls === 10) throw new DOMException('stop', 'AbortError');
        await first.train(...args);
      },
    };
    await expect(runSearch(t, await TrialLog.open(path, t.trials), cutting)).rejects.toThrow('stop');
    const resumed = await TrialLog.open(path, t.trials, [path]);
    const second = new ScriptedTrainer(5, rising);
    await runSearch(t, resumed, second);
    expect(resumed.records).toEqual(whole.log.records);
    // Epochs trained before the stop were not trained again.
    const before = first.calls.flatMap((x) => x.ids.map((id) => `${id}@${x.until}`));
    const after = second.calls.flatMap((x) => x.ids.map((id) => `${id}@${x.until}`));
    expect(before.filter((k) => after.includes(k))).toEqual([]);
    expect(rungSurvivors(resumed.records, 1, 1 / 3).size).toBe(12);
  });
});
