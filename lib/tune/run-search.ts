/**
 * The search: every trial trains to the next rung (or the last epoch) in groups of trials at the
 * same epoch; at a rung, halving stops all but the best. Driven by the trial log alone, so it
 * picks up where an interrupted search stopped. With rungSchedule 'restart' the rungs train
 * complete runs of their own length instead (restart-search.ts).
 */
import { rungSurvivors } from './halving.js';
import type { RankShare } from './rank-share.js';
import { runRestartSearch } from './restart-search.js';
import { restartsRungs } from './rung-schedule.js';
import { alive, finishTrials, type SearchHooks, searchEvents, trainStage } from './search-stage.js';
import type { TrialLog } from './trial-log.js';
import type { TrialTrainer } from './trial-trainer.js';
import type { ResolvedTune } from './tune-config.js';

export type { SearchHooks } from './search-stage.js';

export async function runSearch(
  tune: ResolvedTune,
  log: TrialLog,
  trainer: TrialTrainer,
  signal?: AbortSignal,
  hooks: SearchHooks = {},
  share?: RankShare,
): Promise<void> {
  if (restartsRungs(tune)) return runRestartSearch(tune, log, trainer, signal, hooks, share);
  const epochs = tune.base.epochs;
  const specs = new Map(tune.trials.map((t) => [t.id, t]));
  const events = searchEvents(log, hooks);
  const specOf = (r: { id: string }) => specs.get(r.id)!;
  for (const until of [...tune.rungs, epochs]) {
    await trainStage({ records: log.records, until, specOf }, trainer, events, log, signal, share);
    if (until === epochs) break;
    const survivors = rungSurvivors(log.records, until, tune.settings.keep);
    for (const r of log.records) {
      if (alive(r) && r.epochs.length >= until && !survivors.has(r.id)) {
        await log.setStatus(r.id, 'pruned', { prunedAt: until });
        hooks.status?.(r);
      }
    }
  }
  await finishTrials(log.records, epochs, log, hooks);
}
