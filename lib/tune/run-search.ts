/**
 * The search: every trial trains to the next rung (or the last epoch) in groups of trials at the
 * same epoch; at a rung, halving stops all but the best. Driven by the trial log alone, so it
 * picks up where an interrupted search stopped.
 */
import { rungSurvivors } from './halving.js';
import type { RankShare } from './rank-share.js';
import type { TrialLog } from './trial-log.js';
import type { TrialRecord } from './trial-record.js';
import type { TrialEvents, TrialRun, TrialTrainer } from './trial-trainer.js';
import type { ResolvedTune } from './tune-config.js';

export interface SearchHooks {
  /** A trial changed status (pruned, finished, failed). */
  status?: (record: TrialRecord) => void;
  /** A trial finished an epoch. */
  epoch?: (record: TrialRecord) => void;
}

const alive = (r: TrialRecord) => r.status === 'pending' || r.status === 'running';

export async function runSearch(
  tune: ResolvedTune,
  log: TrialLog,
  trainer: TrialTrainer,
  signal?: AbortSignal,
  hooks: SearchHooks = {},
  share?: RankShare,
): Promise<void> {
  const epochs = tune.base.epochs;
  const specs = new Map(tune.trials.map((t) => [t.id, t]));
  const events: TrialEvents = {
    epoch: async (id, metrics) => {
      await log.addEpoch(id, metrics);
      hooks.epoch?.(log.get(id));
    },
    restored: (id, restored) => log.restore(id, restored),
    failed: async (id, error) => {
      await log.setStatus(id, 'failed', { error });
      hooks.status?.(log.get(id));
    },
  };
  for (const until of [...tune.rungs, epochs]) {
    // Trials at the same epoch train together, groupSize at a time, in grid order (over ranks: the k-th group on rank k mod N).
    const due = log.records.filter((r) => alive(r) && r.epochs.length < until);
    const byEpoch = new Map<number, TrialRecord[]>();
    for (const r of due) byEpoch.set(r.epochs.length, [...(byEpoch.get(r.epochs.length) ?? []), r]);
    let k = 0;
    for (const [epochsDone, records] of [...byEpoch].sort((a, b) => a[0] - b[0])) {
      for (let i = 0; i < records.length; i += trainer.groupSize) {
        if (share && !share.owns(k++)) continue;
        signal?.throwIfAborted();
        const runs: TrialRun[] = records
          .slice(i, i + trainer.groupSize)
          .map((r) => ({ spec: specs.get(r.id)!, epochsDone }));
        await trainer.train(runs, until, events, signal);
      }
    }
    await share?.sync(log);
    if (until === epochs) break;
    const survivors = rungSurvivors(log.records, until, tune.settings.keep);
    for (const r of log.records) {
      if (alive(r) && r.epochs.length >= until && !survivors.has(r.id)) {
        await log.setStatus(r.id, 'pruned', { prunedAt: until });
        hooks.status?.(r);
      }
    }
  }
  for (const r of log.records) {
    if (alive(r) && r.epochs.length >= epochs) {
      await log.setStatus(r.id, 'finished');
      hooks.status?.(r);
    }
  }
}
