/**
 * Selection of the final config: on val only. The records hold no test metric (the search never
 * evaluates test), so nothing here could read one.
 */
import { compareRanked } from './rank-trials.js';
import { selectionScore, type TrialRecord } from './trial-record.js';

/** The finished trial with the best val score under `select`; undefined when none finished with a finite one. */
export function selectTrial(records: readonly TrialRecord[], select: 'last' | 'best'): TrialRecord | undefined {
  const scored = records
    .filter((r) => r.status === 'finished')
    .map((r) => ({ record: r, index: r.index, baseLr: r.baseLr, score: selectionScore(r, select) ?? NaN }))
    .filter((r) => Number.isFinite(r.score));
  return scored.sort(compareRanked)[0]?.record;
}
