/**
 * `Predictor`: image-task requests -> dynamic batches -> one MultiTaskModel forward per batch.
 * Requests for the same image (one upload asking for several tasks) share its batch row.
 */
import type { MultiTaskModel } from '../model/multi-task-model.js';
import { type BatcherOptions, type BatchReport, DynamicBatcher } from './dynamic-batcher.js';

/** One image (S x S x 3, already cropped) for one task. */
interface Item {
  pixels: Uint8Array;
  task: number;
}

export class Predictor {
  readonly #model: MultiTaskModel;
  readonly #batcher: DynamicBatcher<Item, Float32Array>;

  constructor(model: MultiTaskModel, options: BatcherOptions, onBatch?: (report: BatchReport) => void) {
    this.#model = model;
    this.#batcher = new DynamicBatcher(options, (items) => this.#run(items), onBatch);
  }

  /** Logits of `pixels` for each of `tasks` (indices), in order. */
  predict(pixels: Uint8Array, tasks: number[], timeoutMs: number): Promise<Float32Array[]> {
    return Promise.all(tasks.map((task) => this.#batcher.submit({ pixels, task }, timeoutMs)));
  }

  get queueDepth(): number {
    return this.#batcher.depth;
  }

  /** Resolves once every queued request is answered. */
  drain(): Promise<void> {
    return this.#batcher.drain();
  }

  async #run(items: Item[]): Promise<Float32Array[]> {
    const S = this.#model.imageSize;
    const rows = new Map<Uint8Array, number>();
    for (const item of items) if (!rows.has(item.pixels)) rows.set(item.pixels, rows.size);
    const pixels = new Uint8Array(rows.size * S * S * 3);
    for (const [image, row] of rows) pixels.set(image, row * S * S * 3);
    const n = rows.size;
    return this.#model.forward(
      { pixels, shape: [n, S, S, 3], crops: new Int32Array(2 * n), flips: new Uint8Array(n), cropSize: S },
      items.map((item) => ({ image: rows.get(item.pixels)!, task: item.task })),
    );
  }
}
