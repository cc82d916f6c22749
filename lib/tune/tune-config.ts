/**
 * `TuneConfig`: a train config without the searched keys, plus the grid, the selection rule, the
 * final runs and the pruning. Validated completely (every trial's train config included) before
 * anything runs.
 */
import { z } from 'zod';

import { type ResolvedTrainConfig, resolveTrainConfig, type TrainConfig } from '../config/train-config.js';
import { ErrorCode, VptError } from '../errors.js';
import { parseOptions } from '../util/validate.js';
import { DEFAULT_GRIDS, defaultSeeds, VPT_WEIGHT_DECAYS } from './default-grid.js';

/** A list with no value twice (duplicates would train the same config twice). */
function distinct<T extends z.ZodType<number | boolean>>(item: T) {
  return z
    .array(item)
    .min(1, 'expected at least one value')
    .superRefine((values, ctx) => {
      const seen = new Set<unknown>();
      for (const v of values) {
        if (seen.has(v)) ctx.addIssue({ code: 'custom', message: `${String(v)} is given twice` });
        seen.add(v);
      }
    });
}

const positiveFinite = z.number().positive().finite();

export const tuneSettingsSchema = z.strictObject({
  /** The searched values; each defaults to KMnP/vpt's grid for the transfer type (lr, wd) or the base value. */
  grid: z
    .strictObject({
      /** Base learning rates (scaled by batchSize / 256 as `train` does). */
      lr: distinct(positiveFinite).optional(),
      wd: distinct(z.number().min(0).finite()).optional(),
      promptTokens: distinct(z.int().min(1).max(4096)).optional(),
      deep: distinct(z.boolean()).optional(),
    })
    .default({}),
  /**
   * Final runs: a list of seeds, or how many of VPT's (42, 44, 82, 100, 800, then 1000...); 0 = none.
   * A number above 10 is refused as a likely seed (`seeds: 42` is 42 runs): `seeds: [42]`, or `seedCount`.
   */
  seeds: z
    .union([
      z.int().min(0).max(100),
      distinct(
        z
          .int()
          .min(0)
          .max(2 ** 32 - 1),
      ),
    ])
    .default(5),
  /** Final runs: how many of VPT's seeds, any number up to 100 (`seeds` as a number stops at 10). Not with `seeds`. */
  seedCount: z.int().min(0).max(100).optional(),
  /** 'last': the last epoch's val top-1 (VPT's rule); 'best': the best epoch's. Ties go to the smaller lr. */
  select: z.enum(['last', 'best']).default('last'),
  /** The final runs train on train, or on train + val (the VTAB protocol). */
  finalOn: z.enum(['train', 'trainval']).default('train'),
  /** Successive halving on val top-1 at the rungs, or every config to the end. */
  prune: z.enum(['none', 'halving']).default('none'),
  /**
   * Epochs after which halving ranks the configs still training. Default: epochs x keep^k
   * (k = 1, 2, ...), none before graceEpochs; with restarted rungs and no graceEpochs, the two
   * longest of those (halvingRungs).
   */
  rungs: distinct(z.int().min(1)).optional(),
  /**
   * Halving's grace period: the default rungs start no earlier than this many epochs (earlier ones
   * move to it). With rungSchedule 'continue', default warmupEpochs + 1: a config is not ranked
   * before it trained an epoch at its own learning rate (during the warmup every config's lr is
   * still ramping up). With 'restart', none by default: each rung's run is complete, its warmup
   * compressed with it, and the default rungs are the two longest (halvingRungs).
   */
  graceEpochs: z.int().min(1).optional(),
  /**
   * What halving's rungs train (budget-complete rungs, rung-schedule.ts). 'restart' (default): at a
   * rung of r epochs each entrant trains a complete r-epoch run (the warmup and cosine compressed to
   * r epochs) and is ranked at its end; the survivors start again from scratch at the next rung's
   * length, the last ones with the full schedule (as `train` would). 'continue': every config
   * trains the full schedule and is ranked at the rungs mid-schedule, the survivors training on
   * (fewer config-epochs, but it ranks before the cosine decays: bench/RESULTS.md).
   */
  rungSchedule: z.enum(['continue', 'restart']).default('restart'),
  /** Fraction of the configs at a rung that keep training (at least one does). */
  keep: z
    .number()
    .gt(0)
    .lt(1)
    .default(1 / 3),
  /** Configs trained together on one loader pass; default: what the memory holds. */
  groupSize: z.int().min(1).optional(),
  /**
   * A group's trials step together in one native call (the stacked group step, transfer prompt /
   * linear, fp32): 'on', 'off', or 'auto', where timing both ways at the start says it is faster.
   */
  stackedStep: z.enum(['auto', 'on', 'off']).default('auto'),
  /** Continue the search in `out` (finished trials are not rerun, unfinished ones continue from their state). */
  resume: z.boolean().default(false),
  /** Replace a tune folder already in `out`. */
  overwrite: z.boolean().default(false),
});

const TUNE_KEYS = new Set(Object.keys(tuneSettingsSchema.shape));
/** Train keys the grid sets per trial (or that a search cannot take). */
const SEARCHED_KEYS = ['baseLr', 'weightDecay'] as const;

/** What `tune()` accepts: train settings (not baseLr / weightDecay / resume) and the search settings. */
export type TuneConfig = Omit<TrainConfig, (typeof SEARCHED_KEYS)[number] | 'resume'> &
  z.input<typeof tuneSettingsSchema>;

export type TuneSettings = z.output<typeof tuneSettingsSchema>;

/** One point of the grid. */
export interface TrialSpec {
  /**
   * `t<index>-lr<lr>-wd<wd>[-p<tokens>][-deep|-shallow]`: the folder under trials/ (a restarted
   * rung's run of r epochs: `<id>-e<r>`, rung-schedule.ts).
   */
  id: string;
  /** Position in the grid (lr-major, as listed). */
  index: number;
  baseLr: number;
  weightDecay: number;
  promptTokens: number;
  deep: boolean;
  /** The learning rate the optimizer starts from: baseLr x batchSize / 256. */
  scaledLr: number;
  /**
   * With rungSchedule 'restart': the epochs of this trial's complete run (a rung's, or the full
   * epochs at the last stage). Absent otherwise.
   */
  budget?: number;
  /** The trial's complete train config (out = its folder under trials/). */
  config: ResolvedTrainConfig;
}

export interface ResolvedTune {
  /** Tune folder. */
  out: string;
  settings: TuneSettings;
  /** The train settings shared by every trial (baseLr / weightDecay / out are per trial). */
  base: ResolvedTrainConfig;
  /** The searched values, defaults filled in. */
  axes: { lr: number[]; wd: number[]; promptTokens: number[]; deep: boolean[] };
  trials: TrialSpec[];
  seeds: number[];
  rungs: number[];
}

/**
 * The halving rungs: epochs x keep^k for k = 1, 2, ... (floored, >= 1, below epochs), ascending;
 * a rung before `grace` epochs moves to `grace` (ASHA's grace period), so the first ranking waits
 * for it and the later rungs stay where they were.
 */
export function defaultRungs(epochs: number, keep: number, grace = 1): number[] {
  const rungs = new Set<number>();
  for (let at = epochs * keep; Math.floor(at) >= 1; at *= keep) {
    const rung = Math.max(grace, Math.floor(at));
    if (rung < epochs) rungs.add(rung);
  }
  return [...rungs].sort((a, b) => a - b);
}

/**
 * Halving's rungs when none are given. Continued rungs: defaultRungs from the grace period
 * (default warmupEpochs + 1). Restarted rungs compress the warmup with the rest of each run, so
 * they need no grace period; by default they are the two longest of defaultRungs, epochs x keep^2
 * and epochs x keep: [2, 6] at 18 epochs, [11, 33] at 100 (3.0x fewer config-epochs than the
 * grid at keep 1/3). That is the regime bench/RESULTS.md measured; a shorter complete run ranks
 * on too short a budget (small lrs lead there). A graceEpochs given applies to either.
 */
function halvingRungs(epochs: number, warmupEpochs: number, settings: TuneSettings): number[] {
  if (settings.rungSchedule === 'continue')
    return defaultRungs(epochs, settings.keep, settings.graceEpochs ?? warmupEpochs + 1);
  if (settings.graceEpochs !== undefined) return defaultRungs(epochs, settings.keep, settings.graceEpochs);
  return defaultRungs(epochs, settings.keep).slice(-2);
}

/** The most final runs `seeds` may count as a bare number: above it, a number reads as a seed (VPT's are 42 and up). */
export const MAX_SEED_COUNT_AS_SEEDS = 10;

/** The final runs' seeds: `seeds` (a list or a small count) or `seedCount`, never both. */
function finalSeeds(settings: TuneSettings, seedsGiven: boolean): number[] {
  if (settings.seedCount !== undefined) {
    if (seedsGiven)
      throw new VptError(
        ErrorCode.Option,
        'tune config: options "seeds" and "seedCount" are both given: give the list of seeds or their count, not both',
      );
    return defaultSeeds(settings.seedCount);
  }
  const n = settings.seeds;
  if (typeof n !== 'number') return n;
  if (n > MAX_SEED_COUNT_AS_SEEDS)
    throw new VptError(
      ErrorCode.Option,
      `tune config: option "seeds": ${n} would mean ${n} final runs (a number counts VPT's seeds, up to ${MAX_SEED_COUNT_AS_SEEDS}). ` +
        `For the seed ${n} give a list: seeds: [${n}] (CLI: --seeds ${n},); for ${n} runs: seedCount: ${n} (CLI: --seed-count ${n})`,
    );
  return defaultSeeds(n);
}

function trialId(
  index: number,
  t: Omit<TrialSpec, 'id' | 'index' | 'config' | 'scaledLr'>,
  axes: ResolvedTune['axes'],
): string {
  const parts = [`t${String(index).padStart(2, '0')}`, `lr${t.baseLr}`, `wd${t.weightDecay}`];
  if (axes.promptTokens.length > 1) parts.push(`p${t.promptTokens}`);
  if (axes.deep.length > 1) parts.push(t.deep ? 'deep' : 'shallow');
  return parts.join('-');
}

/**
 * Validates a tune config and expands the grid into trials (VptError VPT_OPTION naming the
 * option: an empty list, a negative or duplicate lr, a rung past the epochs, a bad train key).
 */
export function resolveTuneConfig(config: TuneConfig, trialsDir: (id: string) => string): ResolvedTune {
  if (config === null || typeof config !== 'object')
    throw new VptError(ErrorCode.Option, 'tune config: expected an object');
  const tuneInput: Record<string, unknown> = {};
  const trainInput: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) (TUNE_KEYS.has(key) ? tuneInput : trainInput)[key] = value;
  for (const key of [...SEARCHED_KEYS, 'resume']) {
    if (key in trainInput) {
      const hint =
        key === 'resume' ? 'resume: true continues a tune folder' : `set grid.${key === 'baseLr' ? 'lr' : 'wd'}`;
      throw new VptError(ErrorCode.Option, `tune config: option "${key}" is searched or not for a tune (${hint})`);
    }
  }
  const settings = parseOptions(tuneSettingsSchema, tuneInput, 'tune config');
  const base = resolveTrainConfig(trainInput, 'tune config');
  const defaults = DEFAULT_GRIDS[base.transfer];
  const g = settings.grid;
  if (!defaults && !g.lr)
    throw new VptError(
      ErrorCode.Option,
      `tune config: transfer "${base.transfer}" has no default grid in KMnP/vpt's tune scripts: give "grid.lr" (--lr)`,
    );
  if (base.transfer !== 'prompt' && (g.promptTokens || g.deep))
    throw new VptError(
      ErrorCode.Option,
      `tune config: option "grid.promptTokens" / "grid.deep" need transfer "prompt", got "${base.transfer}"`,
    );
  const axes = {
    lr: g.lr ?? defaults?.lr ?? [],
    wd: g.wd ?? defaults?.wd ?? VPT_WEIGHT_DECAYS,
    promptTokens: g.promptTokens ?? [base.promptTokens],
    deep: g.deep ?? [base.deep],
  };
  const rungs =
    settings.prune === 'halving' ? (settings.rungs ?? halvingRungs(base.epochs, base.warmupEpochs, settings)) : [];
  const late = rungs.find((r) => r >= base.epochs);
  if (late !== undefined)
    throw new VptError(
      ErrorCode.Option,
      `tune config: option "rungs": rung ${late} is not below the ${base.epochs} epochs`,
    );
  const trials: TrialSpec[] = [];
  for (const deep of axes.deep)
    for (const promptTokens of axes.promptTokens)
      for (const baseLr of axes.lr)
        for (const weightDecay of axes.wd) {
          const index = trials.length;
          const point = { baseLr, weightDecay, promptTokens, deep };
          const id = trialId(index, point, axes);
          const trialConfig = resolveTrainConfig({ ...trainInput, ...point, out: trialsDir(id) }, `tune trial ${id}`);
          trials.push({ id, index, ...point, scaledLr: (baseLr * base.batchSize) / 256, config: trialConfig });
        }
  const seeds = finalSeeds(settings, 'seeds' in tuneInput);
  return { out: base.out, settings, base, axes, trials, seeds, rungs: [...rungs].sort((a, b) => a - b) };
}
