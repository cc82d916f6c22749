/**
 * `train()`: config -> dataset -> model -> epochs of (train, val, test) -> run folder.
 * Resumable at any step boundary; abortable with an AbortSignal (the state is saved first).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { type Dataset, type Sample, openDataset } from '../data/dataset.js';
import { type Batch, Loader, defaultDecodeWorkers } from '../data/loader.js';
import { type DistributedEnvironment, distributedFromEnv } from '../distributed/environment.js';
import { ProcessGroup } from '../distributed/process-group.js';
import { shardSamples } from '../distributed/shard.js';
import { ErrorCode, VptError } from '../errors.js';
import { createModel } from '../model/create-model.js';
import type { Model, TrainStepResult } from '../model/model.js';
import { runtimeInfo } from '../runtime-info.js';
import { type ResolvedTrainConfig, type TrainConfig, resolveTrainConfig, scaledLearningRate } from '../config/train-config.js';
import { computeClassWeights } from './class-weights.js';
import { drawCurves } from './curves.js';
import { evaluateLoader } from './evaluate-loader.js';
import { prefetchUploads } from './prefetch-uploads.js';
import { type ResumePoint, type RunPosition, checkSameRun, resumePoint, savedRunConfig, withSavedSettings } from './resume-point.js';
import { type EpochMetrics, RunFolder, type SplitMetrics } from './run-folder.js';
import { learningRateAt } from './schedule.js';
import type { DownloadProgress } from '../weights/hub.js';

/** Events reported through `onProgress`. */
export type ProgressEvent =
  | { type: 'download'; file: string; received: number; total: number | null }
  | { type: 'start'; epochs: number; startEpoch: number; stepsPerEpoch: number; trainImages: number; device: string; precision: string; trainableParams: number; out: string; worldSize: number }
  | { type: 'step'; epoch: number; step: number; stepInEpoch: number; stepsPerEpoch: number; loss: number; lr: number; imagesPerSecond: number }
  | { type: 'evaluate'; epoch: number; split: 'val' | 'test' }
  /** Something the user asked for is not happening, and why (e.g. CUDA graphs falling back to eager steps). */
  | { type: 'notice'; message: string }
  | { type: 'epoch'; metrics: EpochMetrics; best: boolean }
  | { type: 'done'; result: TrainResult };

export interface TrainResult {
  /** 1-based epoch with the best val top-1 (the last epoch when there is no val split). */
  bestEpoch: number;
  bestValTop1: number | null;
  testTop1AtBestVal: number | null;
  lastValTop1: number | null;
  lastTestTop1: number | null;
  epochs: EpochMetrics[];
  seconds: number;
  /** Training images per second, over the epochs run in this call. */
  imagesPerSecond: number;
  skippedSteps: number;
  /** Steps trained on cached backbone features (linear probing without augmentation). */
  cachedFeatureSteps: number;
  /** Steps replayed from a captured CUDA graph (`cudaGraphs`), over the epochs run in this call. */
  graphedSteps: number;
  /** Processes that trained together (1 unless data-parallel). */
  worldSize: number;
  files: RunFolder['files'];
}

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

function abortError(): DOMException {
  return new DOMException('training was aborted; the state was saved to last.state.safetensors', 'AbortError');
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
  const resumeFrom = typeof (config as { resume?: unknown } | null)?.resume === 'string' ? (config as { resume: string }).resume : undefined;
  const saved = resumeFrom ? await savedRunConfig(resumeFrom) : undefined;
  const c = absolutePaths(resolveTrainConfig(saved ? withSavedSettings(config, saved) : config));
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
    return await trainOnDevice({ c, dataset, trainSamples, device, precision, group, isMain, run, started, onProgress, signal, overwrite: !!options.overwrite });
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
  };
}

/** Options a data-parallel run cannot take; checked before anything is written. */
export function checkDistributedOptions(c: ResolvedTrainConfig, dist: Pick<DistributedEnvironment, 'worldSize'>): void {
  if (c.batchSize % dist.worldSize !== 0) {
    throw new VptError(ErrorCode.Option, `Invalid option "batchSize": the global batch ${c.batchSize} must divide evenly over ${dist.worldSize} ranks`);
  }
  if (c.onBadImage === 'skip') {
    throw new VptError(ErrorCode.Option, 'Invalid option "onBadImage": \'skip\' is not supported in data-parallel training (a rank whose whole batch is skipped would leave the others waiting); fix or remove the bad images, or train in one process');
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
  onProgress: ((event: ProgressEvent) => void) | undefined;
  signal: AbortSignal | undefined;
  overwrite: boolean;
}

async function trainOnDevice({ c, dataset, trainSamples, device, precision, group, isMain, run, started, onProgress, signal, overwrite }: DeviceRun): Promise<TrainResult> {
  const model = await createModel({
    weights: c.weights,
    ...(c.arch ? { arch: c.arch } : {}),
    numClasses: dataset.numClasses,
    imageSize: c.cropSize,
    prompt: c.transfer === 'prompt' ? { tokens: c.promptTokens, deep: c.deep, dropout: c.promptDropout, project: c.promptProject } : null,
    transfer: c.transfer,
    mlpLayers: c.mlpLayers,
    device,
    precision,
    backboneDtype: c.backboneDtype,
    // Initial values come from rank 0 (attachProcessGroup); the seed offset gives each rank its own dropout stream.
    seed: c.seed + (group?.rank ?? 0),
    checkpointBlocks: c.checkpointBlocks,
    fusedLayerNorm: c.fusedLayerNorm,
    classNames: dataset.classNames,
    ...(onProgress ? { onDownloadProgress: (p: DownloadProgress) => onProgress({ type: 'download', ...p }) } : {}),
  });
  const loaders: Loader[] = [];
  try {
    if (c.classWeights !== 'none') {
      model.setClassWeights(computeClassWeights(trainSamples.map((s) => s.label), dataset.numClasses, c.classWeights));
    }
    // Two pool threads stay free of decoding: one for the step, one for the next batch's upload.
    const common = { cropSize: c.cropSize, seed: c.seed, onBadImage: c.onBadImage, workers: c.workers ?? defaultDecodeWorkers(2) };
    const shard = group ? { rank: group.rank, worldSize: group.worldSize } : undefined;
    const trainLoader = new Loader(trainSamples, {
      ...common, batchSize: c.batchSize, train: c.augment, shuffle: true, dropLast: !!shard || trainSamples.length >= c.batchSize, ...(shard ? { shard } : {}),
    });
    loaders.push(trainLoader);
    const evalLoaders: Partial<Record<'val' | 'test', Loader | undefined>> = {};
    for (const split of ['val', 'test'] as const) {
      const all = dataset.splits[split];
      if (!all?.length) continue;
      // Each rank evaluates its own samples; evaluateLoader sums the counters over ranks.
      const samples = shard ? shardSamples(all, shard) : all;
      const batchSize = c.evalBatchSize ?? (shard ? c.batchSize / shard.worldSize : c.batchSize);
      evalLoaders[split] = samples.length ? new Loader(samples, { ...common, batchSize, train: false, shuffle: false }) : undefined;
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
      resumed = resumePoint(state.run as RunPosition | undefined, state.step + state.nonfiniteTotal, stepsPerEpoch, c.epochs, c.resume);
      // Each rank continues its own dropout stream (the state file holds rank 0's in its rng).
      if (group && resumed.rankRng?.length === group.worldSize) model.setRngState(new Uint8Array(Buffer.from(resumed.rankRng[group.rank]!, 'base64')));
    }
    // Every input has been checked: the run folder is written from here on.
    if (isMain) {
      await run.create();
      if (overwrite && !c.resume) await run.clear();
      await run.writeJson(run.files.config, c);
    }
    // One view per image and a frozen backbone: its features never change, so compute them once.
    // (Not data-parallel: a rank's samples change every epoch, so its cache would never fill.)
    const featureCache = c.transfer === 'linear' && !c.augment && c.cacheFeatures && !group ? new FeatureCache(trainSamples) : undefined;
    const result = await runEpochs({ c, model, run, trainLoader, trainSamples, evalLoaders, numClasses: dataset.numClasses, started, onProgress, signal, device, precision, featureCache, group, isMain, resumed });
    // No rank leaves (closing its connections) while another still reduces.
    await group?.barrier();
    return result;
  } finally {
    model.dispose();
    await Promise.all(loaders.map((l) => l.close()));
  }
}

/** Backbone features of the training images (linear probing without augmentation). */
class FeatureCache {
  readonly #features = new Map<number, Float32Array>();
  readonly #index: Map<string, number>;
  steps = 0;

  constructor(samples: Sample[]) {
    this.#index = new Map(samples.map((s, i) => [s.key, i]));
  }

  /** Features and labels of batch `members` when every member is cached. */
  batch(members: number[], samples: Sample[], dim: number): { features: Float32Array; labels: Int32Array } | undefined {
    if (!members.every((i) => this.#features.has(i))) return undefined;
    const features = new Float32Array(members.length * dim);
    members.forEach((i, k) => features.set(this.#features.get(i)!, k * dim));
    return { features, labels: Int32Array.from(members, (i) => samples[i]!.label) };
  }

  /** Computes the batch's features, caches them per image, returns them. */
  async compute(model: Model, batch: Batch): Promise<Float32Array> {
    const S = batch.images.cropSize;
    const n = batch.labels.length;
    const features = await model.features(await model.preprocess(batch.images), [n, 3, S, S]);
    const dim = features.length / n;
    batch.keys.forEach((key, k) => this.#features.set(this.#index.get(key)!, features.slice(k * dim, (k + 1) * dim)));
    return features;
  }
}

interface RunContext {
  c: ResolvedTrainConfig;
  model: Model;
  run: RunFolder;
  trainLoader: Loader;
  trainSamples: Sample[];
  evalLoaders: Partial<Record<'val' | 'test', Loader | undefined>>;
  numClasses: number;
  started: number;
  device: string;
  precision: string;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
  featureCache?: FeatureCache;
  group: ProcessGroup | undefined;
  /** Rank 0 (or the only process): writes the run folder. */
  isMain: boolean;
  /** Where a resumed run's loop starts (its state is loaded already). */
  resumed: ResumePoint | undefined;
}

/** The batches of one training epoch: from the loader, or from cached features when complete. */
async function* trainBatches(ctx: RunContext, epoch: number): AsyncGenerator<{ labels: Int32Array; step: () => Promise<TrainStepResult> }> {
  const { model, trainLoader, featureCache } = ctx;
  const samples = ctx.trainSamples;
  if (featureCache) {
    const dim = model.info().embedDim;
    const cached = trainLoader.batchOrder(epoch).map((members) => featureCache.batch(members, samples, dim));
    if (cached.every((b) => b !== undefined)) {
      for (const b of cached) {
        yield { labels: b!.labels, step: () => { featureCache.steps++; return model.trainStepFeatures(b!.features, b!.labels); } };
      }
      return;
    }
  }
  if (featureCache) {
    for await (const batch of trainLoader.epoch(epoch)) {
      yield { labels: batch.labels, step: async () => model.trainStepFeatures(await featureCache.compute(model, batch), batch.labels) };
    }
    return;
  }
  // Batch k+1 is uploaded while step k runs.
  for await (const batch of prefetchUploads(model, trainLoader.epoch(epoch))) {
    yield { labels: batch.labels, step: async () => model.trainStep(await batch.staged, batch.labels) };
  }
}

/**
 * Every rank's dropout-generator state, gathered on all ranks (rank 0 saves them): each rank
 * fills its slot of a zeroed buffer and the buffers are summed.
 */
async function gatherRngStates(model: Model, group: ProcessGroup | undefined): Promise<string[] | undefined> {
  if (!group) return undefined;
  const own = model.rngState();
  const all = new Float64Array(own.length * group.worldSize);
  all.set(own, own.length * group.rank);
  const sums = await group.allReduceSum(all);
  return Array.from({ length: group.worldSize }, (_, r) => Buffer.from(Uint8Array.from(sums.subarray(r * own.length, (r + 1) * own.length))).toString('base64'));
}

async function runEpochs(ctx: RunContext): Promise<TrainResult> {
  const { c, model, run, trainLoader, evalLoaders, onProgress, signal, group, isMain, resumed } = ctx;
  const stepsPerEpoch = trainLoader.batchesPerEpoch;
  const schedule = { baseLr: scaledLearningRate(c), unit: c.scheduleUnit, warmupEpochs: c.warmupEpochs, epochs: c.epochs, stepsPerEpoch };

  let step = resumed?.step ?? 0;
  const startEpoch = resumed?.epoch ?? 0;
  const partial = resumed?.partial;
  let history: EpochMetrics[] = [];
  if (resumed) {
    // Epochs finished after the state was saved (a crash between the two writes) are run again.
    history = (await run.readMetrics()).filter((m) => m.epoch <= startEpoch);
  } else if (isMain) {
    await run.writeMetrics([]);
  }
  onProgress?.({
    type: 'start', epochs: c.epochs, startEpoch, stepsPerEpoch, trainImages: stepsPerEpoch * c.batchSize, device: ctx.device,
    precision: ctx.precision, trainableParams: model.info().trainableParams, out: run.dir, worldSize: group?.worldSize ?? 1,
  });

  let best = history.reduce<EpochMetrics | undefined>((b, m) => (m.val && (!b?.val || m.val.top1 > b.val.top1) ? m : b), undefined);
  let trainedImages = 0, trainedSeconds = 0, skippedTotal = 0, graphedSteps = 0;
  const noticed = new Set<string>();

  for (let epoch = startEpoch; epoch < c.epochs; epoch++) {
    // Batches of a resumed epoch trained before the interruption.
    const skipBatches = epoch === startEpoch ? (resumed?.batch ?? 0) : 0;
    // Statistics of batches trained before an interruption carry over, so a resumed epoch
    // reports what an uninterrupted one would.
    const carried = skipBatches > 0 ? partial : undefined;
    const epochStart = performance.now() - (carried?.seconds ?? 0) * 1000;
    let lossSum = carried?.lossSum ?? 0, correct = carried?.correct ?? 0, images = carried?.images ?? 0;
    let skipped = carried?.skipped ?? 0, batchIndex = 0, lr = 0;
    // Data-parallel: the stop vote came with the epoch's last step; stop once its files are written.
    let stopAfterEpoch = false;
    for await (const batch of trainBatches(ctx, epoch)) {
      if (batchIndex++ < skipBatches) continue;
      /** Saves the state with `consumed` batches of this epoch trained, and gives the abort error. */
      const saveAndAbort = async (consumed: number) => {
        const seconds = (performance.now() - epochStart) / 1000;
        const rankRng = await gatherRngStates(model, group);
        const position: RunPosition = { step, epoch, batch: consumed, partial: { lossSum, correct, images, skipped, seconds }, config: c, ...(rankRng ? { rankRng } : {}) };
        if (isMain) await model.saveState(run.files.lastState, position as unknown as Record<string, unknown>);
        return abortError();
      };
      // Data-parallel ranks see a signal at different moments: it becomes a vote carried by the
      // next step's all-reduce, and every rank stops after that same step.
      if (signal?.aborted) {
        if (!group) throw await saveAndAbort(batchIndex - 1);
        model.voteStop();
      }
      // The schedule follows the epoch's batches, so a batch the loader left out (every image
      // bad, onBadImage 'skip') does not shift the rest of the run.
      lr = learningRateAt(schedule, epoch * stepsPerEpoch + batchIndex - 1);
      model.setLearningRate(lr);
      const r = await batch.step();
      step++;
      if (r.graphed) graphedSteps++;
      else if (c.cudaGraphs) {
        const fallback = model.graphStatus().fallback;
        if (fallback && !noticed.has(fallback)) {
          noticed.add(fallback);
          onProgress?.({ type: 'notice', message: `--cuda-graphs: step ${step} ran eagerly: ${fallback}` });
        }
      }
      if (r.skipped) skipped++;
      else {
        lossSum += r.loss * r.count;
        correct += r.correct;
        images += r.count;
      }
      const seconds = (performance.now() - epochStart) / 1000;
      onProgress?.({ type: 'step', epoch, step, stepInEpoch: batchIndex, stepsPerEpoch, loss: r.loss, lr, imagesPerSecond: images / Math.max(seconds, 1e-9) });
      if (r.stop) {
        if (batchIndex < stepsPerEpoch) throw await saveAndAbort(batchIndex);
        stopAfterEpoch = true;
      }
    }
    const trainSeconds = (performance.now() - epochStart) / 1000;
    trainedImages += images;
    trainedSeconds += trainSeconds;
    skippedTotal += skipped;

    const evaluated: Partial<Record<'val' | 'test', SplitMetrics>> = {};
    for (const split of ['val', 'test'] as const) {
      if (!(split in evalLoaders)) continue;
      const loader = evalLoaders[split];
      onProgress?.({ type: 'evaluate', epoch, split });
      // Not interruptible: an abort during evaluation takes effect once the epoch's files are written.
      const { loss, top1, top5, count } = await evaluateLoader(model, loader, ctx.numClasses, group);
      evaluated[split] = { loss, top1, top5, count };
    }
    const metrics: EpochMetrics = {
      epoch: epoch + 1,
      step,
      lr,
      train: { loss: images ? lossSum / images : NaN, top1: images ? correct / images : NaN, imagesPerSecond: images / trainSeconds, skippedSteps: skipped },
      ...evaluated,
      seconds: (performance.now() - epochStart) / 1000,
    };
    history.push(metrics);
    const isBest = !!metrics.val && (!best?.val || metrics.val.top1 > best.val.top1);
    if (isBest) best = metrics;
    const rankRng = await gatherRngStates(model, group);
    if (isMain) {
      // The metrics go before the state that says the epoch is done: after a crash between
      // the two, the resumed run trains this epoch again and rewrites its line.
      if (isBest || (!evaluated.val && epoch === c.epochs - 1)) await model.saveTrainable(run.files.best, { config: JSON.stringify(c) });
      await run.writeMetrics(history);
      const position: RunPosition = { step, epoch: epoch + 1, batch: 0, config: c, ...(rankRng ? { rankRng } : {}) };
      await model.saveState(run.files.lastState, position as unknown as Record<string, unknown>);
      await drawCurves(run.files.curves, history);
    }
    onProgress?.({ type: 'epoch', metrics, best: isBest });
    // Data-parallel runs stop only on the vote (every rank sees it on the same step); a signal
    // that arrives during evaluation is voted on in the next step.
    if ((group ? stopAfterEpoch : signal?.aborted) && epoch < c.epochs - 1) throw abortError();
  }

  const last = history[history.length - 1];
  const chosen = best ?? last;
  const result: TrainResult = {
    bestEpoch: chosen?.epoch ?? 0,
    bestValTop1: chosen?.val?.top1 ?? null,
    testTop1AtBestVal: chosen?.test?.top1 ?? null,
    lastValTop1: last?.val?.top1 ?? null,
    lastTestTop1: last?.test?.top1 ?? null,
    epochs: history,
    seconds: (performance.now() - ctx.started) / 1000,
    imagesPerSecond: trainedSeconds ? trainedImages / trainedSeconds : 0,
    skippedSteps: skippedTotal,
    cachedFeatureSteps: ctx.featureCache?.steps ?? 0,
    graphedSteps,
    worldSize: group?.worldSize ?? 1,
    files: run.files,
  };
  if (isMain) await run.writeJson(run.files.summary, { ...result, epochs: history.length });
  onProgress?.({ type: 'done', result });
  return result;
}
