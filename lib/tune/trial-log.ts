/**
 * trials.jsonl: one line per trial (grid point, status, per-epoch metrics), rewritten atomically
 * after every change, so an interrupted search resumes from it.
 */
import { readFile } from 'node:fs/promises';

import { ErrorCode, VptError } from '../errors.js';
import type { EpochMetrics } from '../train/run-folder.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { newRecord, type TrialRecord } from './trial-record.js';
import type { TrialSpec } from './tune-config.js';

export class TrialLog {
  readonly path: string;
  readonly records: TrialRecord[];
  readonly #byId: Map<string, TrialRecord>;

  private constructor(path: string, records: TrialRecord[]) {
    this.path = path;
    this.records = records;
    this.#byId = new Map(records.map((r) => [r.id, r]));
  }

  /** A log of pending trials, or (resume) the one in `path`, which must list exactly `trials`. */
  static async open(path: string, trials: TrialSpec[], resume: boolean): Promise<TrialLog> {
    if (!resume) return new TrialLog(path, trials.map(newRecord));
    const text = await readFile(path, 'utf8').catch(() => '');
    const saved = new Map<string, TrialRecord>();
    for (const [i, line] of text.split('\n').entries()) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as TrialRecord;
        saved.set(r.id, r);
      } catch (error) {
        throw new VptError(ErrorCode.Data, `${path}:${i + 1} is not valid JSON: ${(error as Error).message}`);
      }
    }
    return new TrialLog(
      path,
      trials.map((t) => saved.get(t.id) ?? newRecord(t)),
    );
  }

  get(id: string): TrialRecord {
    const r = this.#byId.get(id);
    if (!r) throw new VptError(ErrorCode.Training, `unknown trial ${id}`);
    return r;
  }

  /** Records an epoch's metrics (the trial is running from its first). */
  async addEpoch(id: string, metrics: EpochMetrics): Promise<void> {
    const r = this.get(id);
    r.epochs.push(metrics);
    if (r.status === 'pending') r.status = 'running';
    await this.save();
  }

  /** Replaces a trial's epochs with those its saved state holds (the state is what training continues from). */
  async restore(id: string, epochs: EpochMetrics[]): Promise<void> {
    const r = this.get(id);
    r.epochs = epochs;
    r.status = epochs.length ? 'running' : 'pending';
    await this.save();
  }

  async setStatus(
    id: string,
    status: 'finished' | 'pruned' | 'failed',
    detail: { prunedAt?: number; error?: string } = {},
  ): Promise<void> {
    Object.assign(this.get(id), { status }, detail);
    await this.save();
  }

  async save(): Promise<void> {
    await writeFileAtomic(this.path, [Buffer.from(this.records.map((r) => `${JSON.stringify(r)}\n`).join(''))]);
  }
}
