/**
 * Successive halving: at each rung the configs that reached it are ranked on val top-1 there
 * and only the best `keep` fraction (at least one) trains on. Equal val top-1 (a small val split
 * makes many: one image is a step of 100 / n points) goes to the lower val loss, which the same
 * predictions give at a finer grain, then to the smaller lr. The decision depends on the records
 * alone, so a resumed search makes the same one.
 */
import { compareRanked } from './rank-trials.js';
import { type TrialRecord, valTop1At } from './trial-record.js';

/** Val loss after `epochs` epochs; a missing or non-finite one ranks last among equals. */
function valLossAt(r: TrialRecord, epochs: number): number {
  const loss = r.epochs[epochs - 1]?.val?.loss;
  return loss !== undefined && Number.isFinite(loss) ? loss : Infinity;
}

/** How many of `n` configs a rung keeps: ceil(n x keep), at least 1 (n > 0). */
export function keptAt(n: number, keep: number): number {
  return n ? Math.max(1, Math.ceil(n * keep - 1e-9)) : 0;
}

/**
 * The configs that took part in the rung at `rung` epochs: those that trained that far and were
 * not pruned at an earlier rung (a failure after the rung does not change who took part).
 */
export function rungEntrants(records: readonly TrialRecord[], rung: number): TrialRecord[] {
  return records.filter((r) => r.epochs.length >= rung && !(r.prunedAt !== undefined && r.prunedAt < rung));
}

/** The ids halving keeps at `rung`: the best ceil(n x keep) entrants by val top-1 there (ties: lower val loss, then smaller lr). */
export function rungSurvivors(records: readonly TrialRecord[], rung: number, keep: number): Set<string> {
  const entrants = rungEntrants(records, rung).map((r) => ({
    id: r.id,
    index: r.index,
    baseLr: r.baseLr,
    // A non-finite val top-1 ranks last.
    score: Number.isFinite(valTop1At(r, rung)) ? valTop1At(r, rung)! : -Infinity,
    loss: valLossAt(r, rung),
  }));
  entrants.sort((a, b) => b.score - a.score || a.loss - b.loss || compareRanked(a, b));
  return new Set(entrants.slice(0, keptAt(entrants.length, keep)).map((e) => e.id));
}
