/**
 * Trains a group of trials in one process on one loader pass: each batch is decoded once and
 * every trial of the group steps on it (the same batches as same-seed `train` runs see), then
 * one pass over val evaluates them all. The trials' models hold one frozen backbone between
 * them (transfer "prompt" / "linear": a model the trainer keeps lends its tensors to each trial's
 * model, createModelSharingBackbone); with "full" each model trains its own copy. Each trial's state is saved after every epoch, so a
 * search resumes at the epoch boundary exactly. A trial that fails or whose loss is not finite
 * is reported and dropped; the others go on. With `stackedStep` the trials that can step
 * together (stacked-step.ts) do, in one native call per batch.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { type ResolvedTrainConfig, scaledLearningRate } from '../config/train-config.js';
import type { Dataset } from '../data/dataset.js';
import type { ImageBatchU8 } from '../data/image-batch.js';
import { defaultDecodeWorkers, Loader } from '../data/loader.js';
import { ErrorCode, VptError } from '../errors.js';
import { trainStepGrouped } from '../model/grouped-step.js';
import type { Model, TrainStepResult } from '../model/model.js';
import { EpochStats } from '../train/epoch-stats.js';
import type { EpochMetrics, SplitMetrics } from '../train/run-folder.js';
import { learningRateAt, type Schedule } from '../train/schedule.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { trialSchedule } from './rung-schedule.js';
import {
  readDecision,
  type StackedStepDecision,
  type StackedStepMode,
  stacksOf,
  timeStackedStep,
  writeDecision,
} from './stacked-step.js';
import { createTrialModel, sharesBackbone } from './trial-model.js';
import type { TrialEvents, TrialRun, TrialTrainer } from './trial-trainer.js';
import type { TrialSpec } from './tune-config.js';

/** Where a trial's training state lives (under its folder in trials/). */
export function trialStatePath(spec: TrialSpec): string {
  return join(spec.config.out, 'last.state.safetensors');
}

interface Member {
  spec: TrialSpec;
  model: Model;
  schedule: Schedule;
  step: number;
  history: EpochMetrics[];
  failed: boolean;
}

/** The `run` record of a trial's state file: its epochs so far. */
type TrialPosition = { epoch: number; history: EpochMetrics[] };

const isAbort = (e: unknown) => e instanceof DOMException && e.name === 'AbortError';
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export interface GroupTrainerOptions {
  dataset: Dataset;
  /** The settings every trial shares (loader, epochs, schedule shape). */
  base: ResolvedTrainConfig;
  device: string;
  precision: 'fp32' | 'bf16';
  groupSize: number;
  /** After every step of every trial. */
  onStep?: () => void;
  /** A group's models, once made and before they train (to inspect them: their memory, their shared backbone). */
  onModels?: (models: readonly Model[]) => void;
  /** Stack the steps of the trials that can step together: 'auto' where it times faster (stacked-step.ts). Default 'off'. */
  stackedStep?: StackedStepMode;
  /** Where the decision is saved, and (with 'auto') read back from on a resume. */
  stackedStepFile?: string;
  /** Once decided, at the first batch this trainer steps. */
  onStackedStep?: (decision: StackedStepDecision) => void;
}

export class GroupTrainer implements TrialTrainer {
  readonly groupSize: number;
  readonly #o: GroupTrainerOptions;
  readonly #trainLoader: Loader;
  readonly #valLoader: Loader;
  /** The model whose backbone every trial's model shares (made with the first trial's config), when they share one. */
  #backbone: Promise<Model> | undefined;
  #stacked: StackedStepDecision | undefined;

  constructor(o: GroupTrainerOptions) {
    this.#o = o;
    this.groupSize = o.groupSize;
    const { base, dataset } = o;
    const trainSamples = dataset.splits.train ?? [];
    const common = {
      cropSize: base.cropSize,
      preprocess: base.preprocess ?? dataset.preprocess ?? 'fgvc',
      seed: base.seed,
      onBadImage: base.onBadImage,
      workers: base.workers ?? defaultDecodeWorkers(2),
    };
    this.#trainLoader = new Loader(trainSamples, {
      ...common,
      batchSize: base.batchSize,
      train: base.augment,
      shuffle: true,
      dropLast: trainSamples.length >= base.batchSize,
    });
    this.#valLoader = new Loader(dataset.splits.val ?? [], {
      ...common,
      batchSize: base.evalBatchSize ?? base.batchSize,
      train: false,
      shuffle: false,
    });
  }

  get stepsPerEpoch(): number {
    return this.#trainLoader.batchesPerEpoch;
  }

  /** Whether the trials' steps are stacked, once decided (at the first batch). */
  get stackedStep(): StackedStepDecision | undefined {
    return this.#stacked;
  }

  async close(): Promise<void> {
    const backbone = this.#backbone;
    this.#backbone = undefined;
    await Promise.all([
      this.#trainLoader.close(),
      this.#valLoader.close(),
      backbone?.then(
        (m) => m.dispose(),
        () => {},
      ),
    ]);
  }

  /** The model holding the shared backbone, loaded once (undefined where trials cannot share one). */
  #sharedBackbone(spec: TrialSpec): Promise<Model> | undefined {
    if (!sharesBackbone(spec.config)) return undefined;
    if (!this.#backbone) {
      const { dataset, device, precision } = this.#o;
      this.#backbone = createTrialModel(spec.config, dataset, device, precision);
      // A failed load is retried by the next trial (and reported as each trial's failure).
      this.#backbone.catch(() => {
        this.#backbone = undefined;
      });
    }
    return this.#backbone;
  }

  async train(runs: TrialRun[], until: number, events: TrialEvents, signal?: AbortSignal): Promise<void> {
    const members: Member[] = [];
    try {
      for (const run of runs) {
        const member = await this.#open(run, events);
        if (member) members.push(member);
      }
      this.#o.onModels?.(members.map((m) => m.model));
      const from = Math.min(...members.map((m) => m.history.length));
      for (let epoch = from; epoch < until; epoch++) {
        const group = members.filter((m) => !m.failed && m.history.length === epoch);
        if (group.length) await this.#epoch(group, epoch, events, signal);
      }
    } finally {
      for (const m of members) m.model.dispose();
    }
  }

  /** The trial's model, from its saved state when it has trained before; undefined when it failed. */
  async #open(run: TrialRun, events: TrialEvents): Promise<Member | undefined> {
    const { spec } = run;
    const { dataset, device, precision } = this.#o;
    let model: Model | undefined;
    try {
      await mkdir(spec.config.out, { recursive: true });
      // The trial's complete train config beside its state, as a run folder's config.json.
      await writeFileAtomic(join(spec.config.out, 'config.json'), [Buffer.from(JSON.stringify(spec.config, null, 2))]);
      const backbone = await this.#sharedBackbone(spec);
      model = await createTrialModel(spec.config, dataset, device, precision, backbone);
      let step = 0,
        history: EpochMetrics[] = [];
      if (run.epochsDone > 0) {
        const state = await model.loadState(trialStatePath(spec));
        history = ((state.run as TrialPosition | undefined)?.history ?? []).slice();
        step = state.step;
        if (history.length !== run.epochsDone) await events.restored(spec.id, history);
      }
      // The config's schedule (a restarted rung's: compressed to its epochs, rung-schedule.ts).
      const schedule = trialSchedule(spec.config, scaledLearningRate(spec.config), this.stepsPerEpoch);
      return { spec, model, schedule, step, history, failed: false };
    } catch (error) {
      model?.dispose();
      if (isAbort(error)) throw error;
      await events.failed(spec.id, message(error));
      return undefined;
    }
  }

  /** One epoch of `group`: every batch steps each trial, then val evaluates each; states saved. */
  async #epoch(group: Member[], epoch: number, events: TrialEvents, signal?: AbortSignal): Promise<void> {
    const stats = new Map(group.map((m) => [m, new EpochStats()]));
    const lrs = new Map<Member, number>();
    const fail = async (m: Member, why: string) => {
      m.failed = true;
      await events.failed(m.spec.id, why);
    };
    const stepped = async (m: Member, lr: number, r: TrainStepResult | VptError) => {
      if (r instanceof Error) {
        await fail(m, message(r));
      } else {
        m.step++;
        if (r.skipped || !Number.isFinite(r.loss)) {
          await fail(m, `diverged: non-finite loss or gradient at epoch ${epoch + 1}, step ${m.step}`);
        } else {
          stats.get(m)!.add(r);
          lrs.set(m, lr);
        }
      }
      this.#o.onStep?.();
    };
    const stepAlone = async (m: Member, lr: number, batch: { images: ImageBatchU8; labels: Int32Array }) => {
      let r: TrainStepResult | VptError;
      try {
        m.model.setLearningRate(lr);
        r = await m.model.trainStep(batch.images, batch.labels);
      } catch (error) {
        if (isAbort(error)) throw error;
        r = error instanceof VptError ? error : new VptError(ErrorCode.Training, message(error));
      }
      await stepped(m, lr, r);
    };
    let batchIndex = 0;
    let stacks: Member[][] | undefined;
    for await (const batch of this.#trainLoader.epoch(epoch)) {
      signal?.throwIfAborted();
      stacks ??= await this.#stacks(group, batch);
      const at = epoch * this.stepsPerEpoch + batchIndex;
      for (const stack of stacks) {
        const live = stack.filter((m) => !m.failed);
        if (live.length > 1) {
          let results: (TrainStepResult | VptError)[] | undefined;
          try {
            for (const m of live) m.model.setLearningRate(learningRateAt(m.schedule, at));
            results = await trainStepGrouped(
              live.map((m) => m.model),
              batch.images,
              batch.labels,
            );
          } catch (error) {
            if (isAbort(error)) throw error;
            // Nothing stepped (out of memory, say): the trials step one after another from here on.
            stacks = this.#unstack(stacks, stack, message(error));
          }
          for (const [i, m] of live.entries()) {
            const lr = learningRateAt(m.schedule, at);
            await (results ? stepped(m, lr, results[i]!) : stepAlone(m, lr, batch));
          }
        } else {
          for (const m of live) await stepAlone(m, learningRateAt(m.schedule, at), batch);
        }
      }
      batchIndex++;
    }
    const live = group.filter((m) => !m.failed);
    for (const m of live) stats.get(m)!.endTraining();
    const val = await this.#evaluate(live);
    for (const m of live) {
      const metrics = stats.get(m)!.metrics(epoch, m.step, lrs.get(m) ?? 0, { val: val.get(m)! });
      m.history.push(metrics);
      await m.model.saveState(trialStatePath(m.spec), { epoch: epoch + 1, history: m.history } satisfies TrialPosition);
      await events.epoch(m.spec.id, metrics);
    }
  }

  /**
   * How `group` steps this epoch: stacks that step together, or each trial alone. The first
   * call decides whether to stack at all (stacked-step.ts).
   */
  async #stacks(group: Member[], batch: { images: ImageBatchU8; labels: Int32Array }): Promise<Member[][]> {
    const alone = group.map((m) => [m]);
    if ((this.#o.stackedStep ?? 'off') === 'off' || this.#stacked?.on === false) {
      if (!this.#stacked) await this.#decide(group, [], undefined, batch);
      return alone;
    }
    const { stacks, reason } = stacksOf(group, (m) => m.model);
    if (!this.#stacked) await this.#decide(group, stacks, reason, batch);
    return this.#stacked!.on ? stacks : alone;
  }

  async #decide(
    group: Member[],
    stacks: Member[][],
    reason: string | undefined,
    batch: { images: ImageBatchU8; labels: Int32Array },
  ): Promise<void> {
    const mode = this.#o.stackedStep ?? 'off';
    const path = this.#o.stackedStepFile;
    let d: StackedStepDecision;
    // 'auto' on a resume keeps what the tune stepped with (whichever mode chose it): exact resumes.
    const saved = mode === 'auto' && path ? await readDecision(path) : undefined;
    if (saved) {
      d = saved;
    } else if (mode === 'off') {
      d = { mode, on: false, reason: "as asked (--stacked-step off, stackedStep: 'off')" };
    } else if (!stacks.some((s) => s.length > 1)) {
      d = {
        mode,
        on: false,
        reason: group.length < 2 ? 'one trial per group' : `the trials cannot step together: ${reason}`,
      };
    } else {
      const rest = reason ? { reason: `not every trial steps in one stack: ${reason}` } : {};
      d = mode === 'on' ? { mode, on: true, ...rest } : { mode, ...(await this.#time(stacks, batch)), ...rest };
    }
    this.#stacked = d;
    if (path && d !== saved) await writeDecision(path, d);
    this.#o.onStackedStep?.(d);
  }

  /** 'auto': both ways timed on copies of the stacks' models (lr 0: they stay as made), on `batch`. */
  async #time(
    stacks: Member[][],
    batch: { images: ImageBatchU8; labels: Int32Array },
  ): Promise<Omit<StackedStepDecision, 'mode'>> {
    const { dataset, device, precision } = this.#o;
    const copies: Model[][] = [];
    try {
      for (const stack of stacks) {
        const models: Model[] = [];
        copies.push(models);
        for (const m of stack) {
          const copy = await createTrialModel(
            m.spec.config,
            dataset,
            device,
            precision,
            await this.#sharedBackbone(m.spec),
          );
          models.push(copy);
          copy.setLearningRate(0);
        }
      }
      // CUDA graphs: a trial's step is captured after 3 eager ones; time the replays.
      const warmup = this.#o.base.cudaGraphs ? 5 : 1;
      const { stackedMs, separateMs } = await timeStackedStep(copies, batch.images, batch.labels, 5, warmup);
      return { on: stackedMs < separateMs, stackedMs, separateMs };
    } catch (error) {
      if (isAbort(error)) throw error;
      return { on: false, reason: `timing the stacked step failed: ${message(error)}` };
    } finally {
      for (const m of copies.flat()) m.dispose();
    }
  }

  /**
   * `stacks` with `stack` split into trials stepping alone, after its stacked step failed; later
   * epochs and groups of this call step one after another too (stacked-step.json keeps the
   * decision a resume starts from).
   */
  #unstack(stacks: Member[][], stack: Member[], why: string): Member[][] {
    const d = {
      ...this.#stacked!,
      on: false,
      reason: `a stacked step failed, the trials step one after another: ${why}`,
    };
    this.#stacked = d;
    this.#o.onStackedStep?.(d);
    return stacks.flatMap((s) => (s === stack ? s.map((m) => [m]) : [s]));
  }

  /** One pass over val for the whole group: each batch is decoded once and evaluated by every model. */
  async #evaluate(group: Member[]): Promise<Map<Member, SplitMetrics>> {
    const sums = new Map(group.map((m) => [m, { loss: 0, correct1: 0, correct5: 0, count: 0 }]));
    if (group.length) {
      for await (const batch of this.#valLoader.epoch(0)) {
        for (const m of group) {
          const r = await m.model.evaluate(batch.images, batch.labels);
          const s = sums.get(m)!;
          s.loss += r.loss * r.count;
          s.correct1 += r.correct1;
          s.correct5 += r.correct5;
          s.count += r.count;
        }
      }
    }
    return new Map(
      [...sums].map(([m, s]) => [
        m,
        {
          loss: s.count ? s.loss / s.count : NaN,
          top1: s.count ? s.correct1 / s.count : NaN,
          top5: s.count ? s.correct5 / s.count : NaN,
          count: s.count,
        },
      ]),
    );
  }
}
