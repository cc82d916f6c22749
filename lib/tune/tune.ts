/**
 * `tune()`: VPT's protocol in one call. A grid of learning rates x weight decays (and optionally
 * prompt tokens / deep) trained on train and selected on val only, optionally with successive
 * halving; then the chosen config retrained over several seeds, test top-1 averaged.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { ResolvedTrainConfig } from '../config/train-config.js';
import { type Dataset, openDataset } from '../data/dataset.js';
import { type DistributedEnvironment, distributedFromEnv } from '../distributed/environment.js';
import { ProcessGroup } from '../distributed/process-group.js';
import { ErrorCode, VptError } from '../errors.js';
import { runtimeInfo } from '../runtime-info.js';
import { bestConfigYaml } from './best-config.js';
import { checkValSplit } from './check-val-split.js';
import { runFinal } from './final-runs.js';
import { freeBytes, groupSizeFor, trialModelBytes } from './group-size.js';
import { GroupTrainer } from './group-trainer.js';
import { drawHeatmap } from './heatmap.js';
import { leaderboardCsv, leaderboardMarkdown, leaderboardRows } from './leaderboard.js';
import { RankShare, rankTrialsFile } from './rank-share.js';
import { runSearch } from './run-search.js';
import { firstStageTrials, plannedTrialEpochs, restartsRungs } from './rung-schedule.js';
import { selectTrial } from './select-trial.js';
import { readDecision } from './stacked-step.js';
import { writeTrainvalDataset } from './trainval-dataset.js';
import { TrialLog } from './trial-log.js';
import { createTrialModel, sharesBackbone } from './trial-model.js';
import { selectionScore } from './trial-record.js';
import { TuneClock } from './tune-clock.js';
import { type ResolvedTune, resolveTuneConfig, type TuneConfig } from './tune-config.js';
import { TuneFolder } from './tune-folder.js';
import type { TuneProgressEvent } from './tune-progress.js';
import { chosenOf, meanStd, type TuneSummary } from './tune-summary.js';

export type { TuneConfig } from './tune-config.js';
export type { TuneProgressEvent } from './tune-progress.js';
export type { TuneSummary } from './tune-summary.js';

export interface TuneOptions {
  onProgress?: (event: TuneProgressEvent) => void;
  /** Stops at the next step boundary; finished epochs are kept and `resume: true` continues. */
  signal?: AbortSignal;
  /**
   * Spread the configs over ranks (default: from RANK / WORLD_SIZE / ... as torchrun and
   * `tune --nproc N` set them; null: one process). Rank 0 reports and writes the reports; the
   * tune folder must be on a filesystem every rank sees.
   */
  distributed?: DistributedEnvironment | null;
}

/** The config with absolute paths (the trial and final configs work from any directory). */
function absolute(config: TuneConfig): TuneConfig {
  const c = config as Record<string, unknown>;
  const abs = (key: string) => (typeof c[key] === 'string' ? { [key]: resolve(c[key] as string) } : {});
  return {
    ...config,
    ...abs('data'),
    ...abs('out'),
    ...(typeof c.weights === 'string' && existsSync(c.weights) ? abs('weights') : {}),
  };
}

/** What must not change between a tune and its resume (tune.json); how it runs (group size, decode workers) may. */
function searchRecord(t: ResolvedTune) {
  const { resume: _r, overwrite: _o, groupSize: _g, stackedStep: _s, rungSchedule, ...rest } = t.settings;
  const { baseLr: _l, weightDecay: _w, workers: _k, ...base } = t.base;
  // rungSchedule only where rungs restart: a tune folder from before the option (rungs continued, or none) still resumes.
  const settings = restartsRungs(t) ? { ...rest, rungSchedule } : rest;
  return { settings, base, axes: t.axes, seeds: t.seeds, rungs: t.rungs, trials: t.trials.map((x) => x.id) };
}

/** Trials per group: the option, else what memory holds (measured on the first trial's model). */
async function chooseGroupSize(t: ResolvedTune, dataset: Dataset, device: string, precision: 'fp32' | 'bf16') {
  if (t.settings.groupSize) return Math.min(t.settings.groupSize, t.trials.length);
  const probe = await createTrialModel(t.trials[0]!.config, dataset, device, precision);
  try {
    const info = probe.info();
    const shared = sharesBackbone(t.base);
    return groupSizeFor(
      t.trials.length,
      trialModelBytes(info, shared),
      freeBytes(device),
      shared ? info.backboneBytes : 0,
    );
  } finally {
    probe.dispose();
  }
}

/**
 * Searches VPT's grid (KMnP/vpt `tune_fgvc.py` by default) on val, then retrains the chosen
 * config over the seeds and reports the mean test top-1. Writes a tune folder in `out`
 * (trials.jsonl, leaderboard.md/.csv, heatmap.png, best-config.yaml, final/seed-*, summary.json).
 * @example
 * ```ts
 * import { tune } from 'vpt-native';
 * const summary = await tune({
 *   data: 'data/CUB_200_2011',      // prepared with --val-fraction 0.1: val distinct from test
 *   weights: 'models/vit_base_patch16_224.augreg_in21k',
 *   out: 'runs/cub-tune',
 *   deep: true, promptTokens: 10,
 *   prune: 'halving', seeds: 5,
 * }, { onProgress: (e) => e.type === 'chosen' && console.log(e.trial.id) });
 * console.log(summary.testTop1Mean, summary.testTop1Std);
 * ```
 */
export async function tune(config: TuneConfig, options: TuneOptions = {}): Promise<TuneSummary> {
  const started = performance.now();
  const { signal, onProgress } = options;
  signal?.throwIfAborted();
  if (config === null || typeof config !== 'object')
    throw new VptError(ErrorCode.Option, 'tune config: expected an object');
  const folder = new TuneFolder(typeof config.out === 'string' ? config.out : '.');
  const t = resolveTuneConfig(absolute(config), (id) => folder.trialDir(id));
  const { base } = t;
  const dist = options.distributed === undefined ? distributedFromEnv() : options.distributed;
  const group = dist
    ? await ProcessGroup.join({ ...dist, backend: 'gloo', timeoutSeconds: base.distTimeout })
    : undefined;
  try {
    return await tuneOnRank(t, folder, group, started, {
      ...options,
      onProgress: group?.rank ? undefined : onProgress,
    });
  } finally {
    group?.dispose();
  }
}

async function tuneOnRank(
  t: ResolvedTune,
  folder: TuneFolder,
  group: ProcessGroup | undefined,
  started: number,
  { signal, onProgress }: TuneOptions,
): Promise<TuneSummary> {
  const { settings, base } = t;
  const isMain = (group?.rank ?? 0) === 0;
  folder.check(settings.resume, settings.overwrite);
  if (settings.resume) await folder.checkSameSearch(searchRecord(t));

  const dataset = await openDataset(base.data);
  checkValSplit(dataset);
  let device = base.device ?? (runtimeInfo().cudaAvailable ? 'cuda' : 'cpu');
  if (group && device === 'cuda') device = `cuda:${group.localRank % Math.max(1, runtimeInfo().gpus.length)}`;
  const precision = base.precision ?? (device.startsWith('cuda') ? 'bf16' : 'fp32');
  const groupSize = await chooseGroupSize(t, dataset, device, precision);
  // Every input has been checked (on every rank): the folder is written from here on.
  await group?.barrier();
  if (isMain && !settings.resume) await folder.create(searchRecord(t), settings.overwrite);
  await group?.barrier();
  // This call's time, after the earlier calls' of a resumed tune (rank 0 saves it in calls.json).
  const clock = await TuneClock.open(folder.files.calls, settings.resume, started);
  const ticking = isMain ? clock : undefined;
  let summary: TuneSummary;
  try {
    summary = await searchAndFinish(t, folder, group, dataset, device, precision, groupSize, ticking, clock, {
      signal,
      onProgress,
    });
  } catch (error) {
    // Interrupted or failed: the time spent still counts when the tune is resumed.
    await ticking?.save().catch(() => {});
    throw error;
  }
  await ticking?.save();
  return summary;
}

async function searchAndFinish(
  t: ResolvedTune,
  folder: TuneFolder,
  group: ProcessGroup | undefined,
  dataset: Dataset,
  device: string,
  precision: 'fp32' | 'bf16',
  groupSize: number,
  ticking: TuneClock | undefined,
  clock: TuneClock,
  { signal, onProgress }: TuneOptions,
): Promise<TuneSummary> {
  const { settings, base } = t;
  const rank = group?.rank ?? 0,
    worldSize = group?.worldSize ?? 1;
  const isMain = rank === 0;
  const rankFiles = Array.from({ length: worldSize }, (_, r) => rankTrialsFile(folder.dir, r, worldSize));
  // A resume takes the records of every rank of the interrupted tune, whatever its world size.
  const log = await TrialLog.open(
    rankFiles[rank]!,
    firstStageTrials(t),
    settings.resume ? await folder.trialFiles() : [],
  );
  await log.save();

  const trainer = new GroupTrainer({
    dataset,
    base,
    device,
    precision,
    groupSize,
    stackedStep: settings.stackedStep,
    // Each rank decides for its own trials.
    stackedStepFile: rank ? join(folder.dir, `stacked-step.rank-${rank}.json`) : folder.files.stackedStep,
    onStackedStep: (decision) => onProgress?.({ type: 'stacked-step', decision }),
    ...(onProgress ? { onStep: () => onProgress({ type: 'trial-step' }) } : {}),
  });
  try {
    onProgress?.({
      type: 'search',
      trials: t.trials.length,
      epochs: base.epochs,
      groupSize,
      stepsPerEpoch: trainer.stepsPerEpoch,
      trialEpochs: log.records.reduce((n, r) => n + r.epochs.length, 0),
      rungs: t.rungs,
      ...(restartsRungs(t) ? { rungSchedule: 'restart' as const } : {}),
      plannedTrialEpochs: plannedTrialEpochs(t),
      out: folder.dir,
    });
    await runSearch(
      t,
      log,
      trainer,
      signal,
      {
        epoch: (trial) => {
          ticking?.tick();
          onProgress?.({ type: 'trial-epoch', trial });
        },
        status: (trial) => onProgress?.({ type: 'trial-status', trial }),
      },
      group ? new RankShare(group, folder.dir) : undefined,
    );
  } finally {
    await trainer.close();
  }
  if (isMain && group) await log.save(folder.files.trials);

  // Reports, then the choice (on val only).
  const rows = leaderboardRows(log.records, settings.select);
  if (isMain) {
    await folder.writeText(folder.files.leaderboardMd, leaderboardMarkdown(rows, settings.select));
    await folder.writeText(folder.files.leaderboardCsv, leaderboardCsv(rows));
    // One cell per config: its last run (a restarted search's promoted runs have a later one).
    await drawHeatmap(
      folder.files.heatmap,
      rows.filter((r) => r.status !== 'promoted'),
      t.axes.lr,
      t.axes.wd,
    );
  }
  const chosen = selectTrial(log.records, settings.select);
  if (!chosen)
    throw new VptError(
      ErrorCode.Training,
      `no trial finished with a finite val top-1 (see ${folder.files.leaderboardMd} for why each stopped)`,
    );
  const valTop1 = selectionScore(chosen, settings.select)!;
  onProgress?.({ type: 'chosen', trial: chosen, valTop1 });
  const spec = t.trials.find((x) => x.id === chosen.id)!;
  const chosenConfig: ResolvedTrainConfig = {
    ...spec.config,
    preprocess: base.preprocess ?? dataset.preprocess ?? 'fgvc',
  };
  if (isMain) await folder.writeText(folder.files.bestConfig, bestConfigYaml(chosenConfig, chosen.id, valTop1));

  // Final runs: the chosen config over the seeds, on train or train + val (over ranks: seed i on rank i mod N).
  const trainval = join(folder.files.finalDir, 'data-trainval');
  const onTrainval = settings.finalOn === 'trainval' && t.seeds.length > 0;
  if (onTrainval && isMain) await writeTrainvalDataset(dataset, trainval);
  await group?.barrier();
  const final = (seeds: number[]) =>
    runFinal({
      config: chosenConfig,
      seeds,
      data: onTrainval ? trainval : base.data,
      dir: folder.files.finalDir,
      ...(signal ? { signal } : {}),
      onProgress: (seed: number, event) => {
        if (event.type === 'epoch') ticking?.tick();
        onProgress?.({ type: 'final', seed, event });
      },
    });
  if (group) {
    await final(t.seeds.filter((_, i) => i % worldSize === rank));
    await group.barrier();
  }
  const finalRuns = await final(t.seeds);
  const tests = meanStd(finalRuns.map((f) => f.testTop1).filter((v): v is number => v !== null));
  const count = (s: string) => log.records.filter((r) => r.status === s).length;
  const stackedStep = trainer.stackedStep ?? (await readDecision(folder.files.stackedStep));
  const summary: TuneSummary = {
    chosen: chosenOf(chosen),
    select: settings.select,
    valTop1,
    testTop1Mean: tests?.mean ?? null,
    testTop1Std: tests?.std ?? null,
    seeds: t.seeds,
    finalOn: settings.finalOn,
    final: finalRuns,
    trialEpochs: log.records.reduce((n, r) => n + r.epochs.length, 0),
    gridEpochs: t.trials.length * base.epochs,
    trials: { total: t.trials.length, finished: count('finished'), pruned: count('pruned'), failed: count('failed') },
    ...(stackedStep ? { stackedStep } : {}),
    // Every call's: a resumed tune counts the calls before it too (calls.json).
    seconds: clock.seconds,
  };
  if (isMain) await folder.writeText(folder.files.summary, JSON.stringify(summary, null, 2));
  onProgress?.({ type: 'done', summary });
  return summary;
}
