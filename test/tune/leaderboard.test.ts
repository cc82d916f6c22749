/** leaderboard.md / .csv and the heatmap from trial records; the CLI's non-TTY progress lines. */
import { describe, expect, it } from 'vitest';

import { createTuneReporter } from '../../lib/cli/tune-reporter.js';
import { renderHeatmapSvg } from '../../lib/tune/heatmap.js';
import { leaderboardCsv, leaderboardMarkdown, leaderboardRows } from '../../lib/tune/leaderboard.js';
import type { TrialRecord } from '../../lib/tune/trial-record.js';
import { scriptedMetrics } from '../helpers/scripted-trainer.js';

function record(index: number, baseLr: number, vals: number[], extra: Partial<TrialRecord> = {}): TrialRecord {
  return {
    id: `t0${index}-lr${baseLr}-wd0`,
    index,
    baseLr,
    scaledLr: baseLr / 2,
    weightDecay: 0,
    promptTokens: 5,
    deep: true,
    status: 'finished',
    epochs: vals.map((v, i) => scriptedMetrics(i + 1, v)),
    ...extra,
  };
}

const records = [
  record(0, 10, [0.9], { status: 'pruned', prunedAt: 1 }),
  record(1, 1, [0.5, 0.6]),
  record(2, 0.1, [0.5, 0.6]),
  record(3, 100, [0.1], { status: 'failed', error: 'diverged: non-finite loss, "x"' }),
];

describe('leaderboard', () => {
  it('ranks finished trials by val (ties to the smaller lr), then pruned, then failed', () => {
    const rows = leaderboardRows(records, 'last');
    expect(rows.map((r) => [r.rank, r.id, r.status, r.note])).toEqual([
      [1, 't02-lr0.1-wd0', 'finished', ''],
      [2, 't01-lr1-wd0', 'finished', ''],
      [3, 't00-lr10-wd0', 'pruned', 'pruned at epoch 1'],
      [4, 't03-lr100-wd0', 'failed', 'diverged: non-finite loss, "x"'],
    ]);
    const csv = leaderboardCsv(rows).split('\n');
    expect(csv[1]).toBe('1,t02-lr0.1-wd0,0.1,0.05,0,5,true,finished,2,60.00,');
    expect(csv[4]).toBe('4,t03-lr100-wd0,100,50,0,5,true,failed,1,10.00,"diverged: non-finite loss, ""x"""');
    expect(leaderboardMarkdown(rows, 'last')).toContain(
      '| 1 | t02-lr0.1-wd0 | 0.1 | 0.05 | 0 | 5 | true | finished | 2 | 60.00 |  |',
    );
  });

  it('draws one heatmap cell per trial, with the pruned epoch and failures marked', async () => {
    const svg = await renderHeatmapSvg(leaderboardRows(records, 'last'), [100, 10, 1, 0.1], [0]);
    expect(svg).toContain('<svg');
    for (const label of ['60.0', '90.0 (e1)', 'failed']) expect(svg).toContain(label);
  });
});

describe('tune progress (no TTY)', () => {
  it('prints a line per trial that stops, the choice and the result', () => {
    const lines: string[] = [];
    const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
    const report = createTuneReporter('auto', 'last', stream);
    report({
      type: 'search',
      trials: 4,
      epochs: 2,
      groupSize: 4,
      stepsPerEpoch: 3,
      trialEpochs: 0,
      rungs: [1],
      plannedTrialEpochs: 6,
      out: '/o',
    });
    report({ type: 'trial-step' });
    report({ type: 'trial-status', trial: records[0]! });
    report({ type: 'trial-status', trial: records[3]! });
    report({ type: 'chosen', trial: records[2]!, valTop1: 0.6 });
    expect(lines).toEqual([
      'tuning 4 configs x 2 epochs, 4 at a time, halving at epochs 1 -> /o\n',
      'trial t00-lr10-wd0 pruned at epoch 1, val top-1 90.0%\n',
      'trial t03-lr100-wd0 failed: diverged: non-finite loss, "x", val top-1 10.0%\n',
      'chosen on val: t02-lr0.1-wd0 (val top-1 60.0%)\n',
    ]);
  });
});

describe('restarted rungs (rungSchedule restart) in the leaderboard and the progress lines', () => {
  // lr 10: a 1-epoch run pruned; lr 1: its 1-epoch run promoted, then its full run finished.
  const restarted = [
    record(0, 10, [0.9], { id: 't00-lr10-wd0-e1', budget: 1, status: 'pruned', prunedAt: 1 }),
    record(1, 1, [0.95], { id: 't01-lr1-wd0-e1', budget: 1, status: 'promoted', promotedTo: 2 }),
    record(1, 1, [0.5, 0.6], { budget: 2 }),
  ];

  it('lists every run and says which were promoted', () => {
    const rows = leaderboardRows(restarted, 'last');
    expect(rows.map((r) => [r.id, r.status, r.epochs, r.note])).toEqual([
      ['t01-lr1-wd0', 'finished', 2, ''],
      ['t01-lr1-wd0-e1', 'promoted', 1, '1-epoch run, promoted to the 2-epoch run'],
      ['t00-lr10-wd0-e1', 'pruned', 1, '1-epoch run, not promoted'],
    ]);
  });

  it('prints how each run ended', () => {
    const lines: string[] = [];
    const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
    const report = createTuneReporter('auto', 'last', stream);
    report({
      type: 'search',
      trials: 2,
      epochs: 2,
      groupSize: 2,
      stepsPerEpoch: 3,
      trialEpochs: 0,
      rungs: [1],
      rungSchedule: 'restart',
      plannedTrialEpochs: 4,
      out: '/o',
    });
    for (const trial of restarted) report({ type: 'trial-status', trial });
    expect(lines).toEqual([
      'tuning 2 configs x 2 epochs, 2 at a time, halving over complete runs of 1 epochs -> /o\n',
      'trial t00-lr10-wd0-e1 pruned after its 1-epoch run, val top-1 90.0%\n',
      'trial t01-lr1-wd0-e1 promoted to the 2-epoch run, val top-1 95.0%\n',
      'trial t01-lr1-wd0 finished, val top-1 60.0%\n',
    ]);
  });
});
