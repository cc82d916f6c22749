/**
 * What a run saves as it goes: the training state (last.state.safetensors, with the loop's
 * position) mid-epoch when it stops, and after each epoch the best trainable state, the
 * metrics, the state and the curves (then malloc's free pages go back to the system). Every
 * rank takes part (the dropout-generator states are gathered); rank 0 writes.
 */
import type { ResolvedTrainConfig } from '../config/train-config.js';
import type { ProcessGroup } from '../distributed/process-group.js';
import { trimHostHeap } from '../host-heap.js';
import type { Model } from '../model/model.js';
import { CurvesRenderer } from './curves.js';
import type { EpochStats } from './epoch-stats.js';
import type { RunPosition } from './resume-point.js';
import type { EpochMetrics, RunFolder } from './run-folder.js';
import { abortError } from './stop-request.js';

export class Checkpoints {
  readonly #model: Model;
  readonly #run: RunFolder;
  readonly #c: ResolvedTrainConfig;
  readonly #group: ProcessGroup | undefined;
  readonly #isMain: boolean;
  /** The run's chart, kept from epoch to epoch (each adds its points). */
  readonly #curves = new CurvesRenderer();

  constructor(model: Model, run: RunFolder, c: ResolvedTrainConfig, group: ProcessGroup | undefined, isMain: boolean) {
    this.#model = model;
    this.#run = run;
    this.#c = c;
    this.#group = group;
    this.#isMain = isMain;
  }

  /**
   * Saves the state with `batch` batches of epoch `epoch` (0-based) trained, their statistics
   * with it, and gives the error that ends the run.
   */
  async saveAndAbort(step: number, epoch: number, batch: number, stats: EpochStats): Promise<DOMException> {
    const partial = stats.partial();
    const rankRng = await this.#gatherRngStates();
    if (this.#isMain)
      await this.#saveState({ step, epoch, batch, partial, config: this.#c, ...(rankRng ? { rankRng } : {}) });
    return abortError();
  }

  /**
   * After epoch `epoch` (0-based): the best trainable state (`best`), then the metrics, then the
   * state that says the epoch is done, then the curves. After a crash between the metrics and
   * the state, the resumed run trains this epoch again and rewrites its line.
   */
  async saveEpoch(step: number, epoch: number, history: EpochMetrics[], best: boolean): Promise<void> {
    const rankRng = await this.#gatherRngStates();
    if (!this.#isMain) return;
    const run = this.#run;
    if (best) await this.#model.saveTrainable(run.files.best, { config: JSON.stringify(this.#c) });
    await run.writeMetrics(history);
    await this.#saveState({ step, epoch: epoch + 1, batch: 0, config: this.#c, ...(rankRng ? { rankRng } : {}) });
    await this.#curves.draw(run.files.curves, history);
    // The epoch's evaluation, writes and render freed blocks that malloc would otherwise hold (lib/host-heap.ts).
    trimHostHeap();
  }

  async #saveState(position: RunPosition): Promise<void> {
    await this.#model.saveState(this.#run.files.lastState, position);
  }

  /**
   * Every rank's dropout-generator state, gathered on all ranks (rank 0 saves them): each rank
   * fills its slot of a zeroed buffer and the buffers are summed.
   */
  async #gatherRngStates(): Promise<string[] | undefined> {
    const model = this.#model,
      group = this.#group;
    if (!group) return undefined;
    const own = model.rngState();
    const all = new Float64Array(own.length * group.worldSize);
    all.set(own, own.length * group.rank);
    const sums = await group.allReduceSum(all);
    return Array.from({ length: group.worldSize }, (_, r) =>
      Buffer.from(Uint8Array.from(sums.subarray(r * own.length, (r + 1) * own.length))).toString('base64'),
    );
  }
}
