/** The val and test evaluation after each training epoch (whole splits, summed over data-parallel ranks). */
import type { Loader } from '../data/loader.js';
import type { ProcessGroup } from '../distributed/process-group.js';
import type { Model } from '../model/model.js';
import { evaluateLoader } from './evaluate-loader.js';
import type { OnProgress } from './progress-event.js';
import type { SplitMetrics } from './run-folder.js';

export type EvalSplit = 'val' | 'test';
/** A split's loader; present but undefined for a rank whose shard of a small split is empty. */
export type EvalLoaders = Partial<Record<EvalSplit, Loader | undefined>>;
export type EvaluatedSplits = Partial<Record<EvalSplit, SplitMetrics>>;

export class SplitEvaluator {
  readonly #model: Model;
  readonly #loaders: EvalLoaders;
  readonly #numClasses: number;
  readonly #group: ProcessGroup | undefined;
  readonly #onProgress: OnProgress;

  constructor(
    model: Model,
    loaders: EvalLoaders,
    numClasses: number,
    group: ProcessGroup | undefined,
    onProgress: OnProgress,
  ) {
    this.#model = model;
    this.#loaders = loaders;
    this.#numClasses = numClasses;
    this.#group = group;
    this.#onProgress = onProgress;
  }

  /** Evaluates every split the dataset has, after epoch `epoch` (0-based). */
  async evaluate(epoch: number): Promise<EvaluatedSplits> {
    const evaluated: EvaluatedSplits = {};
    for (const split of ['val', 'test'] as const) {
      if (!(split in this.#loaders)) continue;
      this.#onProgress?.({ type: 'evaluate', epoch, split });
      const { loss, top1, top5, count } = await evaluateLoader(
        this.#model,
        this.#loaders[split],
        this.#numClasses,
        this.#group,
      );
      evaluated[split] = { loss, top1, top5, count };
    }
    return evaluated;
  }
}
