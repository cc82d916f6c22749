/**
 * Stopping on the AbortSignal at a step boundary, with the state saved first. One process stops
 * before its next step. Data-parallel ranks see the signal at different moments: it becomes a
 * vote carried by the next step's all-reduce, and every rank stops after that same step (or,
 * when it was the epoch's last, once the epoch's files are written).
 */
import type { ProcessGroup } from '../distributed/process-group.js';
import type { Model, TrainStepResult } from '../model/model.js';

/** The error an aborted run ends with. */
export function abortError(): DOMException {
  return new DOMException('training was aborted; the state was saved to last.state.safetensors', 'AbortError');
}

export class StopRequest {
  readonly #model: Model;
  readonly #signal: AbortSignal | undefined;
  readonly #group: ProcessGroup | undefined;
  /** Data-parallel: the vote came with the epoch's last step. */
  #afterEpoch = false;

  constructor(model: Model, signal: AbortSignal | undefined, group: ProcessGroup | undefined) {
    this.#model = model;
    this.#signal = signal;
    this.#group = group;
  }

  /** Before a step: whether this process stops now; a data-parallel rank votes instead. */
  beforeStep(): boolean {
    if (!this.#signal?.aborted) return false;
    if (!this.#group) return true;
    this.#model.voteStop();
    return false;
  }

  /** After a step: whether its stop vote stops the run now (`midEpoch`), else after this epoch. */
  afterStep(r: TrainStepResult, midEpoch: boolean): boolean {
    if (!r.stop) return false;
    if (midEpoch) return true;
    this.#afterEpoch = true;
    return false;
  }

  /**
   * After an epoch's files are written: whether to stop. Data-parallel runs stop only on the
   * vote (every rank sees it on the same step); a signal that arrives during evaluation is voted
   * on in the next step.
   */
  afterEpoch(): boolean {
    const stop = this.#group ? this.#afterEpoch : !!this.#signal?.aborted;
    this.#afterEpoch = false;
    return stop;
  }
}
