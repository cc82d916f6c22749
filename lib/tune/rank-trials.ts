/**
 * The order configs are compared in, for selection and for halving alike: higher val top-1
 * first; ties go to the smaller lr (VPT's `tune_vtab.py`), then to the earlier grid point.
 */
export interface Ranked {
  index: number;
  baseLr: number;
  score: number;
}

export function compareRanked(a: Ranked, b: Ranked): number {
  return b.score - a.score || a.baseLr - b.baseLr || a.index - b.index;
}
