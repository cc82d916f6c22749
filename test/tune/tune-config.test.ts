/** The grid: KMnP/vpt's defaults per transfer type, lr scaling as train does it, bad grids refused before anything runs. */
import { describe, expect, it } from 'vitest';

import { seedsOption } from '../../lib/cli/tune-command.js';
import { defaultRungs, resolveTuneConfig, type TuneConfig } from '../../lib/tune/tune-config.js';

const base: TuneConfig = { data: 'd', weights: 'w', out: 'o', batchSize: 64 };
const resolve = (c: Partial<TuneConfig>) =>
  resolveTuneConfig({ ...base, ...c } as TuneConfig, (id) => `o/trials/${id}`);

describe('tune grid', () => {
  it("defaults to KMnP/vpt's grid for each transfer type", () => {
    const prompt = resolve({});
    expect(prompt.axes.lr).toEqual([50, 25, 10, 5, 2.5, 1, 0.5, 0.25, 0.1]);
    expect(prompt.axes.wd).toEqual([0.01, 0.001, 0.0001, 0]);
    expect(prompt.trials).toHaveLength(36);
    const linear = resolve({ transfer: 'linear' });
    expect(linear.axes.lr).toHaveLength(10);
    expect(linear.axes.lr[0]).toBe(50);
    expect(linear.axes.lr.at(-1)).toBe(0.05);
    expect(resolve({ transfer: 'full' }).axes.lr).toEqual([1e-3, 5e-4, 1e-4, 5e-3]);
    expect(prompt.seeds).toEqual([42, 44, 82, 100, 800]);
  });

  it('records the lr as train scales it (baseLr x batchSize / 256) and gives each trial its train config', () => {
    const t = resolve({ grid: { lr: [10, 1], wd: [0.001] }, promptTokens: 7, deep: true });
    expect(t.trials.map((x) => [x.id, x.scaledLr])).toEqual([
      ['t00-lr10-wd0.001', 2.5],
      ['t01-lr1-wd0.001', 0.25],
    ]);
    expect(t.trials[1]!.config).toMatchObject({
      baseLr: 1,
      weightDecay: 0.001,
      promptTokens: 7,
      deep: true,
      out: 'o/trials/t01-lr1-wd0.001',
    });
  });

  it('searches prompt tokens and deep when asked, naming them in the trial ids', () => {
    const t = resolve({ grid: { lr: [1], wd: [0], promptTokens: [5, 10], deep: [false, true] } });
    expect(t.trials.map((x) => x.id)).toEqual([
      't00-lr1-wd0-p5-shallow',
      't01-lr1-wd0-p10-shallow',
      't02-lr1-wd0-p5-deep',
      't03-lr1-wd0-p10-deep',
    ]);
  });

  it.each([
    [{ grid: { lr: [] } }, /grid\.lr.*at least one/],
    [{ grid: { lr: [1, -1] } }, /grid\.lr\.1/],
    [{ grid: { lr: [0] } }, /grid\.lr\.0/],
    [{ grid: { lr: [5, 1, 5] } }, /grid\.lr.*5 is given twice/],
    [{ grid: { wd: [0.1, 0.1] } }, /grid\.wd.*0\.1 is given twice/],
    [{ grid: { wd: [-0.1] } }, /grid\.wd\.0/],
    [{ grid: { promptTokens: [0] } }, /grid\.promptTokens/],
    [{ grid: { lr: [1], foo: 1 } }, /unknown option "grid\.foo"/],
    [{ baseLr: 1 }, /"baseLr" is searched.*grid\.lr/],
    [{ weightDecay: 1 }, /"weightDecay" is searched.*grid\.wd/],
    [{ transfer: 'linear', grid: { promptTokens: [5, 10] } }, /need transfer "prompt"/],
    [{ prune: 'halving', epochs: 4, warmupEpochs: 1, rungs: [2, 4] }, /rung 4 is not below the 4 epochs/],
    [{ seeds: [42, 42] }, /seeds/],
    [{ keep: 1 }, /keep/],
    [{ select: 'mean' }, /select/],
    [{ epochs: 0 }, /epochs/],
  ] as Array<[Partial<TuneConfig>, RegExp]>)('refuses %j', (c, message) => {
    expect(() => resolve(c)).toThrow(message);
  });

  it('places the halving rungs at epochs x keep^k (continued rungs; restarted: rung-schedule.test.ts)', () => {
    expect(defaultRungs(9, 1 / 3)).toEqual([1, 3]);
    expect(defaultRungs(100, 1 / 3)).toEqual([1, 3, 11, 33]);
    expect(defaultRungs(8, 0.5)).toEqual([1, 2, 4]);
    expect(defaultRungs(1, 0.5)).toEqual([]);
    expect(resolve({ prune: 'halving', rungSchedule: 'continue', epochs: 9, warmupEpochs: 0 }).rungs).toEqual([1, 3]);
    expect(resolve({ prune: 'none', epochs: 9, warmupEpochs: 1 }).rungs).toEqual([]);
  });

  it('moves rungs before the grace period (default: the warmup epochs + 1) to its end', () => {
    expect(defaultRungs(9, 1 / 3, 2)).toEqual([2, 3]);
    expect(defaultRungs(100, 1 / 3, 11)).toEqual([11, 33]);
    expect(defaultRungs(9, 1 / 3, 9)).toEqual([]);
    // The warmup ramps every config's lr up: no config is ranked before an epoch at its own lr.
    expect(resolve({ prune: 'halving', rungSchedule: 'continue', epochs: 9, warmupEpochs: 1 }).rungs).toEqual([2, 3]);
    expect(resolve({ prune: 'halving', rungSchedule: 'continue', epochs: 100, warmupEpochs: 10 }).rungs).toEqual([
      11, 33,
    ]);
    expect(
      resolve({ prune: 'halving', rungSchedule: 'continue', epochs: 9, warmupEpochs: 1, graceEpochs: 3 }).rungs,
    ).toEqual([3]);
    expect(
      resolve({ prune: 'halving', rungSchedule: 'continue', epochs: 9, warmupEpochs: 1, graceEpochs: 1 }).rungs,
    ).toEqual([1, 3]);
    // Given rungs are taken as they are.
    expect(
      resolve({ prune: 'halving', rungSchedule: 'continue', epochs: 9, warmupEpochs: 1, rungs: [1, 4] }).rungs,
    ).toEqual([1, 4]);
  });

  it('takes --seeds N as the first N of VPT seeds', () => {
    expect(resolve({ seeds: 2 }).seeds).toEqual([42, 44]);
    expect(resolve({ seeds: 6 }).seeds).toEqual([42, 44, 82, 100, 800, 1000]);
    expect(resolve({ seeds: 0 }).seeds).toEqual([]);
    expect(resolve({ seeds: [7, 8] }).seeds).toEqual([7, 8]);
  });

  it('refuses a bare --seeds N above 10 (42 runs is more likely the seed 42), pointing to a list or seedCount', () => {
    for (const n of [11, 42, 44, 100])
      expect(() => resolve({ seeds: n })).toThrow(
        new RegExp(
          `"seeds": ${n} would mean ${n} final runs.*seeds: \\[${n}\\] \\(CLI: --seeds ${n},\\).*seedCount: ${n} \\(CLI: --seed-count ${n}\\)`,
        ),
      );
    expect(resolve({ seeds: 10 }).seeds).toHaveLength(10);
    expect(resolve({ seeds: [42] }).seeds).toEqual([42]);
    expect(resolve({ seedCount: 12 }).seeds).toEqual([42, 44, 82, 100, 800, 1000, 1001, 1002, 1003, 1004, 1005, 1006]);
    expect(resolve({ seedCount: 0 }).seeds).toEqual([]);
    expect(() => resolve({ seeds: [42], seedCount: 2 })).toThrow(/"seeds" and "seedCount" are both given/);
    expect(() => resolve({ seedCount: 101 })).toThrow(/seedCount/);
  });

  it('reads --seeds 42, (trailing comma) as the one seed 42 and --seeds 3 as a count', () => {
    expect(seedsOption('42,')).toEqual([42]);
    expect(seedsOption('42,44')).toEqual([42, 44]);
    expect(seedsOption('3')).toBe(3);
    expect(() => seedsOption(',')).toThrow(/comma-separated numbers/);
  });
});
