/**
 * Successive halving over budget-complete rungs (rungSchedule 'restart', rung-schedule.ts): at
 * each stage every entrant trains a complete run of the stage's length, from scratch, and the
 * rung keeps the best by its last-epoch val top-1 (halving.ts's rule and ties). A kept run is
 * recorded as promoted and its config trains again at the next stage's length; the others are
 * pruned at the rung. The last stage trains the full schedule. Driven by the trial log alone
 * (one record per config and run length), so a resumed search takes the same decisions.
 */
import { rungSurvivors } from './halving.js';
import type { RankShare } from './rank-share.js';
import { budgetTrial, budgetTrialId, stageBudgets } from './rung-schedule.js';
import { alive, finishTrials, type SearchHooks, searchEvents, trainStage } from './search-stage.js';
import type { TrialLog } from './trial-log.js';
import type { TrialTrainer } from './trial-trainer.js';
import type { ResolvedTune, TrialSpec } from './tune-config.js';

export async function runRestartSearch(
  tune: ResolvedTune,
  log: TrialLog,
  trainer: TrialTrainer,
  signal?: AbortSignal,
  hooks: SearchHooks = {},
  share?: RankShare,
): Promise<void> {
  const epochs = tune.base.epochs;
  const budgets = stageBudgets(tune);
  const specs = new Map<string, TrialSpec>();
  const events = searchEvents(log, hooks);
  let entrants: TrialSpec[] = tune.trials;
  for (const [stage, budget] of budgets.entries()) {
    const runs = entrants.map((s) => budgetTrial(s, budget));
    for (const s of runs) {
      specs.set(s.id, s);
      await log.add(s);
    }
    await trainStage(
      { records: runs.map((s) => log.get(s.id)), until: budget, specOf: (r) => specs.get(r.id)! },
      trainer,
      events,
      log,
      signal,
      share,
    );
    // The stage's records as trained (merged from every rank).
    const done = runs.map((s) => log.get(s.id));
    if (budget === epochs) return finishTrials(done, epochs, log, hooks);
    const survivors = rungSurvivors(done, budget, tune.settings.keep);
    const next = budgets[stage + 1]!;
    for (const r of done) {
      if (!alive(r) || r.epochs.length < budget) continue;
      if (survivors.has(r.id)) await log.setStatus(r.id, 'promoted', { promotedTo: next });
      else await log.setStatus(r.id, 'pruned', { prunedAt: budget });
      hooks.status?.(r);
    }
    entrants = entrants.filter((s) => survivors.has(budgetTrialId(s.id, budget, epochs)));
  }
}
