/**
 * The files a run writes, each replaced atomically (a crash never leaves a torn file):
 *   config.json             the resolved config
 *   metrics.jsonl           one line per finished epoch
 *   summary.json            the result
 *   best.safetensors        trainable state at the best val top-1
 *   last.state.safetensors  full training state, for --resume
 *   curves.png              loss and accuracy curves
 */
import { access, mkdir, readFile, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';

import { ErrorCode, VptError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/** Metrics of one evaluated split. */
export interface SplitMetrics {
  loss: number;
  top1: number;
  top5: number;
  count: number;
}

/** One line of metrics.jsonl. */
export interface EpochMetrics {
  epoch: number;
  step: number;
  lr: number;
  train: { loss: number; top1: number; imagesPerSecond: number; skippedSteps: number };
  val?: SplitMetrics;
  test?: SplitMetrics;
  seconds: number;
}

export class RunFolder {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  get files() {
    return {
      config: join(this.dir, 'config.json'),
      metrics: join(this.dir, 'metrics.jsonl'),
      summary: join(this.dir, 'summary.json'),
      best: join(this.dir, 'best.safetensors'),
      lastState: join(this.dir, 'last.state.safetensors'),
      curves: join(this.dir, 'curves.png'),
    };
  }

  async create(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (error) {
      throw new VptError(ErrorCode.Io, `cannot create run folder ${this.dir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** The run files present in the folder now. */
  async existing(): Promise<string[]> {
    const present = await Promise.all(
      Object.values(this.files).map((f) =>
        access(f).then(
          () => f,
          () => undefined,
        ),
      ),
    );
    return present.filter((f): f is string => f !== undefined);
  }

  /** Throws unless the folder holds no run (no run file in it). */
  async checkFree(): Promise<void> {
    const present = await this.existing();
    if (present.length === 0) return;
    const names = present.map((f) => basename(f)).join(', ');
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "out": ${this.dir} holds a run already (${names}); continue it with resume (--resume ${this.files.lastState}), ` +
        'replace it with overwrite (--force), or choose another folder',
    );
  }

  /** Removes the run files of an earlier run (a new run replacing it). */
  async clear(): Promise<void> {
    try {
      await Promise.all(Object.values(this.files).map((f) => rm(f, { force: true })));
    } catch (error) {
      throw new VptError(ErrorCode.Io, `cannot clear the run folder ${this.dir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async writeJson(path: string, value: unknown): Promise<void> {
    await writeFileAtomic(path, [Buffer.from(`${JSON.stringify(value, null, 2)}\n`)]);
  }

  async writeMetrics(lines: EpochMetrics[]): Promise<void> {
    await writeFileAtomic(this.files.metrics, [Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join(''))]);
  }

  /** Metrics written so far (empty for a new run). */
  async readMetrics(): Promise<EpochMetrics[]> {
    let text: string;
    try {
      text = await readFile(this.files.metrics, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((l) => l.trim())
      .map((l, i) => {
        try {
          return JSON.parse(l) as EpochMetrics;
        } catch {
          throw new VptError(ErrorCode.Io, `${this.files.metrics}: line ${i + 1} is not valid JSON`);
        }
      });
  }
}
