/**
 * Successive halving over budget-complete rungs (rungSchedule 'restart') on a scripted trainer:
 * each rung's entrants train a complete run of its length from scratch (their schedule compressed
 * to it), one record per config and run length; the rung keeps ceil(n x keep) by the runs' last
 * val top-1; the survivors restart at the next length and the last stage trains the full
 * schedule. Where ranking mid-schedule favours the wrong lrs (short-horizon bias), ranking
 * complete runs does not. A failed run is recorded and not promoted; a resumed search takes the
 * same decisions and retrains nothing.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runSearch } from '../../lib/tune/run-search.js';
import { firstStageTrials, plannedTrialEpochs } from '../../lib/tune/rung-schedule.js';
import { selectTrial } from '../../lib/tune/select-trial.js';
import { TrialLog } from '../../lib/tune/trial-log.js';
import type { TrialEvents, TrialRun, TrialTrainer } from '../../lib/tune/trial-trainer.js';
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

const EPOCHS = 9;
const config = (c: Partial<TuneConfig>): TuneConfig =>
  ({
    data: 'd',
    weights: 'w',
    out: 'o',
    epochs: EPOCHS,
    warmupEpochs: 0,
    batchSize: 256,
    prune: 'halving',
    rungSchedule: 'restart',
    ...c,
  }) as TuneConfig;

const lrOf = (id: string) => Number(/lr([\d.e-]+)-wd/.exec(id)![1]);
const wdOf = (id: string) => Number(/-wd([\d.e-]+?)(-e\d+)?$/.exec(id)![1]);
/** The epochs of the run a trial id names: `-e<budget>`, else the full epochs. */
const budgetOf = (id: string) => Number(/-e(\d+)$/.exec(id)?.[1] ?? EPOCHS);
/** Closeness of log10(lr) to log10(best), minus the wd. */
const near = (id: string, best: number) => 1 / (1 + Math.abs(Math.log10(lrOf(id) / best))) - wdOf(id);

/**
 * Short-horizon bias: mid-schedule (before a run's last epoch) lr 0.5 leads; at the end of a
 * complete run of any length lr 5 does (a longer run ends higher).
 */
const biased: Script = (id, epoch) =>
  epoch < budgetOf(id) ? 0.5 * near(id, 0.5) : Math.min(1, near(id, 5) * (0.5 + budgetOf(id) / 18));

/** A trainer recording each run it is given (id, epochs done, the run's epochs and warmup) and until. */
class Recording implements TrialTrainer {
  readonly runs: Array<{ id: string; from: number; until: number; epochs: number; warmup: number; out: string }> = [];
  constructor(readonly inner: ScriptedTrainer) {}
  get groupSize() {
    return this.inner.groupSize;
  }
  async train(runs: TrialRun[], until: number, events: TrialEvents) {
    for (const r of runs)
      this.runs.push({
        id: r.spec.id,
        from: r.epochsDone,
        until,
        epochs: r.spec.config.epochs,
        warmup: r.spec.config.warmupEpochs,
        out: r.spec.config.out,
      });
    await this.inner.train(runs, until, events);
  }
}

async function search(c: Partial<TuneConfig>, script: Script, file: string, groupSize = 4) {
  const t = resolveTuneConfig(config(c), (id) => join('trials', id));
  const log = await TrialLog.open(join(tmp.dir, file), firstStageTrials(t));
  const trainer = new Recording(new ScriptedTrainer(groupSize, script));
  await runSearch(t, log, trainer);
  return { t, log, trainer };
}

describe('halving over restarted, budget-complete rungs', () => {
  it('trains 36 x 1 + 12 x 3 + 4 x 9 epochs of complete runs (3x fewer), one record per config and run length', async () => {
    const { t, log, trainer } = await search({ warmupEpochs: 1 }, biased, 'plan.jsonl');
    // No grace period by default: each run's warmup is compressed with it.
    expect(t.rungs).toEqual([1, 3]);
    const epochs = log.records.reduce((n, r) => n + r.epochs.length, 0);
    expect(epochs).toBe(36 * 1 + 12 * 3 + 4 * 9);
    expect(plannedTrialEpochs(t)).toBe(epochs);
    expect((36 * EPOCHS) / epochs).toBe(3);
    const at = (budget: number) => log.records.filter((r) => r.budget === budget);
    expect(at(1)).toHaveLength(36);
    expect(at(3)).toHaveLength(12);
    expect(at(9)).toHaveLength(4);
    expect(log.records).toHaveLength(52);
    // Every run is complete: its record holds as many epochs as its budget.
    expect(log.records.every((r) => r.epochs.length === r.budget)).toBe(true);
    const statuses = (budget: number) =>
      at(budget)
        .map((r) => `${r.status}${r.prunedAt ?? ''}${r.promotedTo ?? ''}`)
        .sort();
    expect(statuses(1)).toEqual([...Array(12).fill('promoted3'), ...Array(24).fill('pruned1')]);
    expect(statuses(3)).toEqual([...Array(4).fill('promoted9'), ...Array(8).fill('pruned3')]);
    expect(statuses(9)).toEqual(Array(4).fill('finished'));
    // Ids: `<config>-e<budget>` below the full epochs, the config's own at them.
    expect(at(1)[0]!.id).toBe('t00-lr50-wd0.01-e1');
    expect(at(9).every((r) => /^t\d\d-lr[\d.]+-wd[\d.]+$/.test(r.id))).toBe(true);
    // Each run starts from scratch, with the config's schedule compressed to its epochs, in its own folder.
    expect(trainer.runs.every((r) => r.from === 0 && r.until === r.epochs)).toBe(true);
    const first = trainer.runs.find((r) => r.id === 't00-lr50-wd0.01-e1')!;
    expect(first).toMatchObject({ epochs: 1, warmup: 1 / 9, out: join('trials', 't00-lr50-wd0.01-e1') });
    const full = trainer.runs.find((r) => r.until === 9)!;
    expect(full).toMatchObject({ epochs: 9, warmup: 1, out: join('trials', full.id) });
    // Groups of at most 4 runs of one length.
    expect(trainer.inner.calls.every((c) => c.ids.length <= 4 && c.ids.every((id) => budgetOf(id) === c.until))).toBe(
      true,
    );
    // Config-level counts: every config ends in exactly one finished, pruned or failed record.
    const ended = log.records.filter((r) => r.status !== 'promoted');
    expect(new Set(ended.map((r) => r.index)).size).toBe(36);
    expect(ended).toHaveLength(36);
  });

  it('ranks complete runs: chooses the grid best where ranking mid-schedule (continue) does not', async () => {
    const grid = { lr: [50, 25, 10, 5, 2.5, 1, 0.5, 0.25, 0.1], wd: [0.01, 0.001, 0.0001, 0] };
    // The grid's best at the full epochs: lr 5 wd 0.
    const restart = await search({ grid }, biased, 'restart.jsonl');
    expect(selectTrial(restart.log.records, 'last')!.id).toBe('t15-lr5-wd0');
    const continued = await search({ grid, rungSchedule: 'continue' }, biased, 'continue.jsonl');
    expect(continued.t.rungs).toEqual([1, 3]);
    // Mid-schedule the small lrs lead: lr 5 is pruned at the first rung.
    expect(continued.log.records.find((r) => r.id === 't15-lr5-wd0')).toMatchObject({ status: 'pruned', prunedAt: 1 });
    expect(selectTrial(continued.log.records, 'last')!.baseLr).toBeLessThan(5);
  });

  it('breaks equal val top-1 at a rung toward the smaller lr, as halving does', async () => {
    const { log } = await search(
      { grid: { lr: [10, 1, 0.1, 0.01], wd: [0] }, keep: 0.5, rungs: [2] },
      () => 0.5,
      'ties.jsonl',
    );
    expect(log.records.filter((r) => r.status === 'finished').map((r) => r.baseLr)).toEqual([0.1, 0.01]);
    expect(log.records.filter((r) => r.status === 'promoted').map((r) => r.id)).toEqual([
      't02-lr0.1-wd0-e2',
      't03-lr0.01-wd0-e2',
    ]);
  });

  it('records a failed run, promotes none of it and goes on', async () => {
    const script: Script = (id, epoch) =>
      id.startsWith('t01-') && budgetOf(id) === 2 && epoch === 2
        ? new Error('diverged: non-finite loss')
        : biased(id, epoch);
    const { log } = await search(
      { grid: { lr: [10, 5, 1, 0.1], wd: [0] }, keep: 0.5, rungs: [2] },
      script,
      'fail.jsonl',
    );
    expect(log.records.find((r) => r.id === 't01-lr5-wd0-e2')).toMatchObject({
      status: 'failed',
      error: 'diverged: non-finite loss',
    });
    expect(log.records.filter((r) => r.status === 'promoted')).toHaveLength(2);
    expect(log.records.filter((r) => r.status === 'finished').map((r) => r.baseLr)).not.toContain(5);
    expect(log.records.filter((r) => r.status === 'finished')).toHaveLength(2);
  });

  it('a resumed search makes the same decisions and retrains no run', async () => {
    const whole = await search({}, biased, 'whole.jsonl', 5);
    const t = resolveTuneConfig(config({}), (id) => join('trials', id));
    const path = join(tmp.dir, 'cut.jsonl');
    // Stopped on the trainer's 11th call: inside the second stage.
    const first = new ScriptedTrainer(5, biased);
    let calls = 0;
    const cutting = {
      groupSize: 5,
      train: async (...args: Parameters<ScriptedTrainer['train']>) => {
        if (++calls === 11) throw new DOMException('stop', 'AbortError');
        await first.train(...args);
      },
    };
    await expect(runSearch(t, await TrialLog.open(path, firstStageTrials(t)), cutting)).rejects.toThrow('stop');
    const resumed = await TrialLog.open(path, firstStageTrials(t), [path]);
    // The second stage's runs made before the stop are taken from the file.
    expect(resumed.records.some((r) => r.budget === 3)).toBe(true);
    const second = new ScriptedTrainer(5, biased);
    await runSearch(t, resumed, second);
    expect(resumed.records).toEqual(whole.log.records);
    const before = first.calls.flatMap((x) => x.ids);
    const after = second.calls.flatMap((x) => x.ids);
    expect(before.filter((id) => after.includes(id))).toEqual([]);
  });
});
