/** leaderboard.md / leaderboard.csv: every trial, best first by the selection rule. */
import { compareRanked } from './rank-trials.js';
import { selectionScore, type TrialRecord } from './trial-record.js';

export interface LeaderboardRow {
  rank: number;
  id: string;
  baseLr: number;
  scaledLr: number;
  weightDecay: number;
  promptTokens: number;
  deep: boolean;
  status: string;
  epochs: number;
  /** Val top-1 under the selection rule (last or best epoch). */
  valTop1: number | null;
  note: string;
}

function noteOf(r: TrialRecord): string {
  // A restarted rung's run (budget below the full epochs) is a complete run of its own length.
  const run = r.budget === undefined ? '' : `${r.budget}-epoch run, `;
  if (r.status === 'pruned') return r.budget === undefined ? `pruned at epoch ${r.prunedAt}` : `${run}not promoted`;
  if (r.status === 'promoted') return `${run}promoted to the ${r.promotedTo}-epoch run`;
  return r.error ?? '';
}

/** Finished trials first (by score, ties to the smaller lr), then pruned or promoted by the epochs reached, then failed. */
export function leaderboardRows(records: readonly TrialRecord[], select: 'last' | 'best'): LeaderboardRow[] {
  const group = (r: TrialRecord) =>
    ({ finished: 0, running: 1, pending: 1, promoted: 2, pruned: 2, failed: 3 })[r.status];
  const score = (r: TrialRecord) => selectionScore(r, select) ?? NaN;
  const sorted = [...records].sort(
    (a, b) =>
      group(a) - group(b) ||
      b.epochs.length - a.epochs.length ||
      compareRanked(
        { ...a, score: Number.isFinite(score(a)) ? score(a) : -Infinity },
        { ...b, score: Number.isFinite(score(b)) ? score(b) : -Infinity },
      ),
  );
  return sorted.map((r, i) => ({
    rank: i + 1,
    id: r.id,
    baseLr: r.baseLr,
    scaledLr: r.scaledLr,
    weightDecay: r.weightDecay,
    promptTokens: r.promptTokens,
    deep: r.deep,
    status: r.status,
    epochs: r.epochs.length,
    valTop1: Number.isFinite(score(r)) ? score(r) : null,
    note: noteOf(r),
  }));
}

const HEADER = ['rank', 'id', 'base lr', 'lr', 'wd', 'prompt tokens', 'deep', 'status', 'epochs', 'val top-1', 'note'];

function cells(r: LeaderboardRow): string[] {
  return [
    String(r.rank),
    r.id,
    String(r.baseLr),
    String(r.scaledLr),
    String(r.weightDecay),
    String(r.promptTokens),
    String(r.deep),
    r.status,
    String(r.epochs),
    r.valTop1 === null ? '' : (r.valTop1 * 100).toFixed(2),
    r.note,
  ];
}

export function leaderboardCsv(rows: LeaderboardRow[]): string {
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  return `${[HEADER, ...rows.map(cells)].map((line) => line.map(quote).join(',')).join('\n')}\n`;
}

export function leaderboardMarkdown(rows: LeaderboardRow[], select: 'last' | 'best'): string {
  const cellText = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const line = (c: string[]) => `| ${c.map(cellText).join(' | ')} |`;
  return [
    `# Leaderboard (val top-1 of the ${select === 'last' ? 'last' : 'best'} epoch, %)`,
    '',
    line(HEADER),
    line(HEADER.map(() => '---')),
    ...rows.map((r) => line(cells(r))),
    '',
  ].join('\n');
}
