/**
 * `train()`: config -> dataset -> model -> epochs of (train, val, test) -> run folder.
 * Resumable at any step boundary; abortable with an AbortSignal (the state is saved first).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  type ResolvedTrainConfig,
  resolveTrainConfig,
  scaledLearningRate,
  type TrainConfig,
} from '../config/train-config.js';
import { type Dataset, openDataset, type Sample } from '../data/dataset.js';
import { defaultDecodeWorkers, Loader } from '../data/loader.js';
import { type DistributedEnvironment, distributedFromEnv } from '../distributed/environment.js';
import { ProcessGroup } from '../distributed/process-group.js';
import { shardSamples } from '../distributed/shard.js';
import { ErrorCode, VptError } from '../errors.js';
import { createModel } from '../model/create-model.js';
import type { Model } from '../model/model.js';
import { runtimeInfo } from '../runtime-info.js';
import type { DownloadProgress } from '../weights/hub.js';
import { Checkpoints } from './checkpoints.js';
import { computeClassWeights } from './class-weights.js';
import { EpochStats } from './epoch-stats.js';
import { FeatureCache } from './feature-cache.js';
import { GraphNotices } from './graph-notices.js';
import type { OnProgress, ProgressEvent } from './progress-event.js';
import {
  checkSameRun,
  type ResumePoint,
  type RunPosition,
  resumePoint,
  savedRunConfig,
  withSavedSettings,
} from './resume-point.js';
import { RunFolder } from './run-folder.js';
import { RunHistory } from './run-history.js';
import { RunTotals } from './run-totals.js';
import { learningRateAt, type Schedule } from './schedule.js';
import { type EvalLoaders, SplitEvaluator } from './split-evaluator.js';
import { abortError, StopRequest } from './stop-request.js';
import { TrainBatches } from './train-batches.js';
import { trainModelOptions } from './train-model-options.js';
import type { TrainResult } from './train-result.js';

export type { ProgressEvent } from './progress-event.js';
export type { TrainResult } from './train-result.js';

export interface TrainOptions {
  /** Called on rank 0 only in a data-parallel run. */
  onProgress?: (event: ProgressEvent) => void;
  /** Stops at the next step boundary with the state saved; in a data-parallel run every rank stops at the same step. */
  signal?: AbortSignal;
  /**
   * Data-parallel setup; default: from RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT
   * (torchrun, `vpt-native train --nproc N`); null forces a single-process run.
   */
  distributed?: DistributedEnvironment | null;
  /**
   * Replace a run already in `out` (its config, metrics, checkpoints and summary). Without it a
   * new run refuses a folder that holds one; resuming (`resume`) continues it instead.
   */
  overwrite?: boolean;
}

/**
 * Trains VPT (or linear probing / full fine-tuning) on a VPT-style dataset.
 * @example
 * ```ts
 * import { train } from 'vpt-native';
 * const result = await train({
 *   data: 'data/CUB_200_2011',                 // images/ + train.json + val.json
 *   weights: 'models/vit_base_patch16_224.augreg_in21k',
 *   out: 'runs/cub-deep',
 *   deep: true, promptTokens: 10,
 * }, { onProgress: (e) => e.type === 'epoch' && console.log(e.metrics) });
 * console.log(result.bestValTop1);
 * ```
 */
export async function train(config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  // A resume takes the settings it leaves unset from the state file, and refuses other values.
  const resumeFrom =
    typeof (config as { resume?: unknown } | null)?.resume === 'string'
      ? (config as { resume: string }).resume
      : undefined;
  const saved = resumeFrom ? await savedRunConfig(resumeFrom) : undefined;
  let c = absolutePaths(resolveTrainConfig(saved ? withSavedSettings(config, saved) : config));
  if (saved) checkSameRun(c, saved, c.resume!);
  const { signal } = options;
  signal?.throwIfAborted();
  const dist = options.distributed === undefined ? distributedFromEnv() : options.distributed;
  if (dist) checkDistributedOptions(c, dist);
  const isMain = !dist || dist.rank === 0;
  // Rank 0 reports and writes; the other ranks train and evaluate silently.
  const onProgress = isMain ? options.onProgress : undefined;
  const started = performance.now();
  // Nothing is written before every input has been checked (dataset, model, resume state):
  // here only whether the folder is free; it is written once the model is ready.
  const run = new RunFolder(c.out);
  if (isMain && !c.resume && !options.overwrite) await run.checkFree();

  const dataset = await openDataset(c.data);
  // Recorded in config.json: the preprocessing given, else the dataset's (splits.json), else VPT's
  // FGVC. A resumed run saved before the option existed trained with FGVC's.
  c = { ...c, preprocess: c.preprocess ?? (saved ? 'fgvc' : dataset.preprocess) ?? 'fgvc' };
  const trainSamples = dataset.splits.train;
  if (!trainSamples?.length) throw new VptError(ErrorCode.Option, `${c.data} has no train split (train.json)`);
  let device = c.device ?? (runtimeInfo().cudaAvailable ? 'cuda' : 'cpu');
  // One GPU per rank on a machine: "cuda" means this rank's, cuda:LOCAL_RANK (modulo the GPUs
  // visible, for launchers that give each task its own CUDA_VISIBLE_DEVICES).
  if (dist && device === 'cuda') {
    const gpus = runtimeInfo().gpus.length;
    device = `cuda:${gpus ? dist.localRank % gpus : dist.localRank}`;
  }
  const precision = c.precision ?? (device.startsWith('cuda') ? 'bf16' : 'fp32');
  const group = dist ? await joinGroup(c, dist, device) : undefined;
  try {
    return await trainOnDevice({
      c,
      dataset,
      trainSamples,
      device,
      precision,
      group,
      isMain,
      run,
      started,
      onProgress,
      signal,
      overwrite: !!options.overwrite,
    });
  } finally {
    group?.dispose();
  }
}

/**
 * The config with absolute paths, so the run folder's config.json works from any directory
 * (`eval --run`, `--config`). A weights value that is no local path is a Hugging Face id.
 */
function absolutePaths(c: ResolvedTrainConfig): ResolvedTrainConfig {
  return {
    ...c,
    data: resolve(c.data),
    out: resolve(c.out),
    weights: existsSync(c.weights) ? resolve(c.weights) : c.weights,
    ...(c.resume ? { resume: resolve(c.resume) } : {}),
    ...(c.clsEmbeddings ? { clsEmbeddings: resolve(c.clsEmbeddings) } : {}),
  };
}

/** Options a data-parallel run cannot take; checked before anything is written. */
export function checkDistributedOptions(c: ResolvedTrainConfig, dist: Pick<DistributedEnvironment, 'worldSize'>): void {
  if (c.batchSize % dist.worldSize !== 0) {
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "batchSize": the global batch ${c.batchSize} must divide evenly over ${dist.worldSize} ranks`,
    );
  }
  if (c.onBadImage === 'skip') {
    throw new VptError(
      ErrorCode.Option,
      'Invalid option "onBadImage": \'skip\' is not supported in data-parallel training (a rank whose whole batch is skipped would leave the others waiting); fix or remove the bad images, or train in one process',
    );
  }
}

/** Joins the data-parallel group on the backend that fits the device. */
async function joinGroup(c: ResolvedTrainConfig, dist: DistributedEnvironment, device: string): Promise<ProcessGroup> {
  const backend = c.distBackend === 'auto' ? (device.startsWith('cuda') ? 'nccl' : 'gloo') : c.distBackend;
  if (backend === 'nccl' && !device.startsWith('cuda')) {
    throw new VptError(ErrorCode.Option, `Invalid option "distBackend": nccl needs a CUDA device, got "${device}"`);
  }
  // NCCL's buffers live on the model's GPU.
  const cudaDevice = device.startsWith('cuda:') ? Number(device.slice('cuda:'.length)) : dist.localRank;
  return ProcessGroup.join({ ...dist, backend, timeoutSeconds: c.distTimeout, cudaDevice });
}

interface DeviceRun {
  c: ResolvedTrainConfig;
  dataset: Dataset;
  trainSamples: Sample[];
  device: string;
  precision: 'fp32' | 'bf16';
  group: ProcessGroup | undefined;
  isMain: boolean;
  run: RunFolder;
  started: number;
  onProgress: OnProgress;
  signal: AbortSignal | undefined;
  overwrite: boolean;
}

async function trainOnDevice({
  c,
  dataset,
  trainSamples,
  device,
  precision,
  group,
  isMain,
  run,
  started,
  onProgress,
  signal,
  overwrite,
}: DeviceRun): Promise<TrainResult> {
  const model = await createModel({
    // Initial values come from rank 0 (attachProcessGroup); the seed offset gives each rank its own dropout stream.
    ...trainModelOptions(c, dataset, { device, precision, seed: c.seed + (group?.rank ?? 0) }),
    ...(onProgress ? { onDownloadProgress: (p: DownloadProgress) => onProgress({ type: 'download', ...p }) } : {}),
  });
  const loaders: Loader[] = [];
  try {
    if (c.classWeights !== 'none') {
      model.setClassWeights(
        computeClassWeights(
          trainSamples.map((s) => s.label),
          dataset.numClasses,
          c.classWeights,
        ),
      );
    }
    // Two pool threads stay free of decoding: one for the step, one for the next batch's upload.
    const common = {
      cropSize: c.cropSize,
      preprocess: c.preprocess ?? 'fgvc',
      seed: c.seed,
      onBadImage: c.onBadImage,
      workers: c.workers ?? defaultDecodeWorkers(2),
    };
    const shard = group ? { rank: group.rank, worldSize: group.worldSize } : undefined;
    const trainLoader = new Loader(trainSamples, {
      ...common,
      batchSize: c.batchSize,
      train: c.augment,
      shuffle: true,
      dropLast: !!shard || trainSamples.length >= c.batchSize,
      ...(shard ? { shard } : {}),
    });
    loaders.push(trainLoader);
    const evalLoaders: EvalLoaders = {};
    for (const split of ['val', 'test'] as const) {
      const all = dataset.splits[split];
      if (!all?.length) continue;
      // Each rank evaluates its own samples; evaluateLoader sums the counters over ranks.
      const samples = shard ? shardSamples(all, shard) : all;
      const batchSize = c.evalBatchSize ?? (shard ? c.batchSize / shard.worldSize : c.batchSize);
      evalLoaders[split] = samples.length
        ? new Loader(samples, { ...common, batchSize, train: false, shuffle: false })
        : undefined;
      if (evalLoaders[split]) loaders.push(evalLoaders[split]);
    }
    model.configureOptimizer({
      optimizer: c.optimizer,
      lr: scaledLearningRate(c),
      ...(c.optimizer === 'sgd' ? { momentum: c.momentum } : {}),
      weightDecay: c.weightDecay,
      ...(c.clipGradNorm ? { clipGradNorm: c.clipGradNorm } : {}),
      cudaGraphs: c.cudaGraphs,
    });
    if (group) await model.attachProcessGroup(group);
    const stepsPerEpoch = trainLoader.batchesPerEpoch;
    let resumed: ResumePoint | undefined;
    if (c.resume) {
      const state = await model.loadState(c.resume);
      resumed = resumePoint(
        state.run as RunPosition | undefined,
        state.step + state.nonfiniteTotal,
        stepsPerEpoch,
        c.epochs,
        c.resume,
        !existsSync(run.files.summary),
      );
      // Each rank continues its own dropout stream (the state file holds rank 0's in its rng).
      if (group && resumed.rankRng?.length === group.worldSize)
        model.setRngState(new Uint8Array(Buffer.from(resumed.rankRng[group.rank]!, 'base64')));
    }
    // Every input has been checked: the run folder is written from here on.
    if (isMain) {
      await run.create();
      if (overwrite && !c.resume) await run.clear();
      await run.writeJson(run.files.config, c);
    }
    // One view per image and a frozen backbone: its features never change, so compute them once.
    // (Not data-parallel: a rank's samples change every epoch, so its cache would never fill.)
    // Prompts in the upper blocks only (reverseDeep): the frozen, prompt-free blocks below give
    // each image the same output every epoch, so those are computed once in the same way.
    const cacheable = !c.augment && c.cacheFeatures && !group;
    const featureCache = !cacheable
      ? undefined
      : c.transfer === 'linear'
        ? new FeatureCache(trainSamples)
        : c.transfer === 'prompt' && model.info().stemBlocks > 0
          ? new FeatureCache(trainSamples, 'stem')
          : undefined;
    const result = await runEpochs({
      c,
      model,
      run,
      trainLoader,
      trainSamples,
      evalLoaders,
      numClasses: dataset.numClasses,
      started,
      onProgress,
      signal,
      device,
      precision,
      featureCache,
      group,
      isMain,
      resumed,
    });
    // No rank leaves (closing its connections) while another still reduces.
    await group?.barrier();
    return result;
  } finally {
    model.dispose();
    await Promise.all(loaders.map((l) => l.close()));
  }
}

interface RunContext {
  c: ResolvedTrainConfig;
  model: Model;
  run: RunFolder;
  trainLoader: Loader;
  trainSamples: Sample[];
  evalLoaders: EvalLoaders;
  numClasses: number;
  started: number;
  device: string;
  precision: string;
  onProgress: OnProgress;
  signal: AbortSignal | undefined;
  featureCache: FeatureCache | undefined;
  group: ProcessGroup | undefined;
  /** Rank 0 (or the only process): writes the run folder. */
  isMain: boolean;
  /** Where a resumed run's loop starts (its state is loaded already). */
  resumed: ResumePoint | undefined;
}

async function runEpochs(ctx: RunContext): Promise<TrainResult> {
  const { c, model, run, trainLoader, onProgress, group, isMain, resumed } = ctx;
  const stepsPerEpoch = trainLoader.batchesPerEpoch;
  const schedule: Schedule = {
    baseLr: scaledLearningRate(c),
    unit: c.scheduleUnit,
    warmupEpochs: c.warmupEpochs,
    epochs: c.epochs,
    stepsPerEpoch,
  };
  const batches = new TrainBatches(model, trainLoader, ctx.trainSamples, ctx.featureCache);
  const evaluator = new SplitEvaluator(model, ctx.evalLoaders, ctx.numClasses, group, onProgress);
  const checkpoints = new Checkpoints(model, run, c, group, isMain);
  const stop = new StopRequest(model, ctx.signal, group);
  const graphs = new GraphNotices(model, c.cudaGraphs, onProgress);
  const totals = new RunTotals();
  const history = await RunHistory.start(run, resumed, isMain);
  const startEpoch = resumed?.epoch ?? 0;
  let step = resumed?.step ?? 0;
  onProgress?.({
    type: 'start',
    epochs: c.epochs,
    startEpoch,
    stepsPerEpoch,
    trainImages: stepsPerEpoch * c.batchSize,
    device: ctx.device,
    precision: ctx.precision,
    trainableParams: model.info().trainableParams,
    out: run.dir,
    worldSize: group?.worldSize ?? 1,
  });

  for (let epoch = startEpoch; epoch < c.epochs; epoch++) {
    // A resumed epoch passes over the batches trained before the interruption; their statistics
    // carry over, so it reports what an uninterrupted epoch would.
    const skipBatches = epoch === startEpoch ? (resumed?.batch ?? 0) : 0;
    const stats = new EpochStats(skipBatches > 0 ? resumed?.partial : undefined);
    let batchIndex = 0,
      lr = 0;
    for await (const batch of batches.epoch(epoch)) {
      if (batchIndex++ < skipBatches) continue;
      // Stop (abort signal): save the state and end here; a data-parallel rank votes instead.
      if (stop.beforeStep()) throw await checkpoints.saveAndAbort(step, epoch, batchIndex - 1, stats);
      // Learning rate: follows the epoch's batches, so a batch the loader left out (every image
      // bad, onBadImage 'skip') does not shift the rest of the run.
      lr = learningRateAt(schedule, epoch * stepsPerEpoch + batchIndex - 1);
      model.setLearningRate(lr);
      // Forward, backward, optimizer step.
      const r = await batches.step(batch);
      step++;
      // Log.
      graphs.afterStep(r, step);
      stats.add(r);
      onProgress?.({
        type: 'step',
        epoch,
        step,
        stepInEpoch: batchIndex,
        stepsPerEpoch,
        loss: r.loss,
        lr,
        imagesPerSecond: stats.imagesPerSecond(),
      });
      // Data-parallel stop vote: every rank stops after this same step (after the epoch's last, once its files are written).
      if (stop.afterStep(r, batchIndex < stepsPerEpoch))
        throw await checkpoints.saveAndAbort(step, epoch, batchIndex, stats);
    }
    stats.endTraining();
    totals.add(stats);
    // Evaluate val and test (not interruptible: an abort takes effect once the epoch's files are written).
    const evaluated = await evaluator.evaluate(epoch);
    const metrics = stats.metrics(epoch, step, lr, evaluated);
    const isBest = history.add(metrics);
    // Checkpoint: best (the last epoch's without a val split), metrics, state, curves.
    await checkpoints.saveEpoch(step, epoch, history.epochs, isBest || (!metrics.val && epoch === c.epochs - 1));
    // Report the epoch; stop here when asked to (before the next epoch).
    onProgress?.({ type: 'epoch', metrics, best: isBest });
    if (stop.afterEpoch() && epoch < c.epochs - 1) throw abortError();
  }

  const last = history.last;
  const chosen = history.best ?? last;
  const result: TrainResult = {
    bestEpoch: chosen?.epoch ?? 0,
    bestValTop1: chosen?.val?.top1 ?? null,
    testTop1AtBestVal: chosen?.test?.top1 ?? null,
    lastValTop1: last?.val?.top1 ?? null,
    lastTestTop1: last?.test?.top1 ?? null,
    epochs: history.epochs,
    seconds: (performance.now() - ctx.started) / 1000,
    imagesPerSecond: totals.imagesPerSecond,
    skippedSteps: totals.skipped,
    cachedFeatureSteps: batches.cachedFeatureSteps,
    graphedSteps: graphs.graphedSteps,
    worldSize: group?.worldSize ?? 1,
    files: run.files,
  };
  if (isMain) await run.writeJson(run.files.summary, { ...result, epochs: history.epochs.length });
  onProgress?.({ type: 'done', result });
  return result;
}
