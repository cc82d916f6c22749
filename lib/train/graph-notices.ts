/** CUDA graphs (`cudaGraphs`) over the steps: counts the graphed ones, says once per reason why one ran eagerly. */
import type { Model, TrainStepResult } from '../model/model.js';
import type { OnProgress } from './progress-event.js';

export class GraphNotices {
  /** Steps replayed from a captured graph. */
  graphedSteps = 0;
  readonly #model: Model;
  readonly #requested: boolean;
  readonly #onProgress: OnProgress;
  readonly #noticed = new Set<string>();

  constructor(model: Model, requested: boolean, onProgress: OnProgress) {
    this.#model = model;
    this.#requested = requested;
    this.#onProgress = onProgress;
  }

  /** After optimizer step `step` (1-based). */
  afterStep(r: TrainStepResult, step: number): void {
    if (r.graphed) {
      this.graphedSteps++;
      return;
    }
    if (!this.#requested) return;
    const fallback = this.#model.graphStatus().fallback;
    if (fallback && !this.#noticed.has(fallback)) {
      this.#noticed.add(fallback);
      this.#onProgress?.({ type: 'notice', message: `--cuda-graphs: step ${step} ran eagerly: ${fallback}` });
    }
  }
}
