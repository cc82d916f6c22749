/**
 * One stage of the search: trains the trials due, in groups of trials at the same epoch, up to an
 * epoch (over ranks: the k-th group on rank k mod N, then every rank merges the records).
 */
import type { RankShare } from './rank-share.js';
import type { TrialLog } from './trial-log.js';
import type { TrialRecord } from './trial-record.js';
import type { TrialEvents, TrialRun, TrialTrainer } from './trial-trainer.js';
import type { TrialSpec } from './tune-config.js';

export interface SearchHooks {
  /** A trial changed status (pruned, promoted, finished, failed). */
  status?: (record: TrialRecord) => void;
  /** A trial finished an epoch. */
  epoch?: (record: TrialRecord) => void;
}

export const alive = (r: TrialRecord) => r.status === 'pending' || r.status === 'running';

/** What the trainer reports, written to the log (and passed on to the hooks). */
export function searchEvents(log: TrialLog, hooks: SearchHooks): TrialEvents {
  return {
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
}

export interface Stage {
  /** The trials that train in this stage (those still alive and short of `until` do). */
  records: readonly TrialRecord[];
  until: number;
  specOf: (r: TrialRecord) => TrialSpec;
}

/** Trains `stage`'s trials up to its epoch, groupSize at a time in grid order, grouped by the epochs they have done. */
export async function trainStage(
  stage: Stage,
  trainer: TrialTrainer,
  events: TrialEvents,
  log: TrialLog,
  signal?: AbortSignal,
  share?: RankShare,
): Promise<void> {
  const due = stage.records.filter((r) => alive(r) && r.epochs.length < stage.until);
  const byEpoch = new Map<number, TrialRecord[]>();
  for (const r of due) byEpoch.set(r.epochs.length, [...(byEpoch.get(r.epochs.length) ?? []), r]);
  let k = 0;
  for (const [epochsDone, records] of [...byEpoch].sort((a, b) => a[0] - b[0])) {
    for (let i = 0; i < records.length; i += trainer.groupSize) {
      if (share && !share.owns(k++)) continue;
      signal?.throwIfAborted();
      const runs: TrialRun[] = records
        .slice(i, i + trainer.groupSize)
        .map((r) => ({ spec: stage.specOf(r), epochsDone }));
      await trainer.train(runs, stage.until, events, signal);
    }
  }
  await share?.sync(log);
}

/** Marks the trials of `records` still alive that trained `epochs` epochs as finished. */
export async function finishTrials(
  records: readonly TrialRecord[],
  epochs: number,
  log: TrialLog,
  hooks: SearchHooks,
): Promise<void> {
  for (const r of records) {
    if (alive(r) && r.epochs.length >= epochs) {
      await log.setStatus(r.id, 'finished');
      hooks.status?.(r);
    }
  }
}
