/**
 * `DynamicBatcher`: requests queue; a batch runs as soon as `maxBatch` are waiting, or when the
 * oldest has waited `maxWaitMs`; one batch runs at a time (the model has one thread). A full
 * queue refuses at once (queue_full, Retry-After), and a request still unanswered at its
 * deadline is answered with deadline_exceeded (and left out of its batch if it has not started).
 */
import { HttpError, SERVE_ERROR } from './http-error.js';

export interface BatcherOptions {
  /** Most requests in one batch. */
  maxBatch: number;
  /** Longest a request waits for others to join its batch. */
  maxWaitMs: number;
  /** Most requests waiting (not counting the batch running); more are refused. */
  maxQueue: number;
}

/** What the batcher reports of each batch it runs. */
export interface BatchReport {
  size: number;
  seconds: number;
}

interface Entry<I, R> {
  item: I;
  enqueued: number;
  settled: boolean;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
  deadline: NodeJS.Timeout;
}

export class DynamicBatcher<I, R> {
  readonly #o: BatcherOptions;
  readonly #run: (items: I[]) => Promise<R[]>;
  readonly #onBatch: (report: BatchReport) => void;
  #queue: Entry<I, R>[] = [];
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #idle: Array<() => void> = [];

  /** `run` answers a batch's items in order. */
  constructor(
    options: BatcherOptions,
    run: (items: I[]) => Promise<R[]>,
    onBatch: (report: BatchReport) => void = () => {},
  ) {
    this.#o = options;
    this.#run = run;
    this.#onBatch = onBatch;
  }

  /** Requests waiting for a batch. */
  get depth(): number {
    return this.#queue.length;
  }

  /**
   * Queues `item`; its result, or an HttpError (queue_full, deadline_exceeded) or `run`'s error.
   * @example
   * ```ts
   * const logits = await batcher.submit({ pixels, task: 0 }, 30_000);
   * ```
   */
  submit(item: I, timeoutMs: number): Promise<R> {
    if (this.#queue.length >= this.#o.maxQueue) {
      return Promise.reject(
        new HttpError(SERVE_ERROR.queueFull, `the queue is full (${this.#o.maxQueue} requests waiting)`, {
          'retry-after': String(Math.max(1, Math.ceil((this.#o.maxWaitMs * 2) / 1000))),
        }),
      );
    }
    return new Promise<R>((resolve, reject) => {
      const entry: Entry<I, R> = {
        item,
        enqueued: performance.now(),
        settled: false,
        resolve,
        reject,
        deadline: setTimeout(() => {
          if (entry.settled) return;
          entry.settled = true;
          this.#queue = this.#queue.filter((e) => e !== entry);
          reject(new HttpError(SERVE_ERROR.deadlineExceeded, `no answer within ${timeoutMs} ms`));
          this.#notifyIdle();
        }, timeoutMs),
      };
      this.#queue.push(entry);
      this.#schedule();
    });
  }

  /** Resolves once nothing is queued or running. */
  drain(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #isIdle(): boolean {
    return !this.#running && this.#queue.length === 0;
  }

  #notifyIdle(): void {
    if (!this.#isIdle()) return;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  #schedule(): void {
    if (this.#running || this.#queue.length === 0) return;
    const wait = this.#queue[0]!.enqueued + this.#o.maxWaitMs - performance.now();
    if (this.#queue.length >= this.#o.maxBatch || wait <= 0) {
      this.#flush();
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => this.#flush(), wait);
    }
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue.splice(0, this.#o.maxBatch);
    if (batch.length === 0) return;
    this.#running = true;
    const start = performance.now();
    this.#run(batch.map((e) => e.item))
      .then(
        (results) => {
          this.#onBatch({ size: batch.length, seconds: (performance.now() - start) / 1000 });
          batch.forEach((e, i) => {
            settle(e, () => e.resolve(results[i]!));
          });
        },
        (error) => {
          for (const e of batch) settle(e, () => e.reject(error));
        },
      )
      .finally(() => {
        this.#running = false;
        this.#schedule();
        this.#notifyIdle();
      });
  }
}

function settle<I, R>(e: Entry<I, R>, answer: () => void): void {
  clearTimeout(e.deadline);
  if (e.settled) return;
  e.settled = true;
  answer();
}
