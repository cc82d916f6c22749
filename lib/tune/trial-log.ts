/**
 * trials.jsonl: one line per trial (grid point, status, per-epoch metrics), rewritten atomically
 * after every change, so an interrupted search resumes from it.
 */
import { ErrorCode, VptError } from '../errors.js';
import type { EpochMetrics } from '../train/run-folder.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { furtherRecord, readTrialRecords } from './rank-share.js';
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

  /**
   * A log of pending trials written to `path`, or (resume) the records of `trials` found in
   * `resumeFrom` (the further one of a trial listed twice; see furtherRecord).
   */
  static async open(path: string, trials: TrialSpec[], resumeFrom: string[] = []): Promise<TrialLog> {
    const log = new TrialLog(path, trials.map(newRecord));
    for (const file of resumeFrom) for (const r of await readTrialRecords(file)) log.take(r);
    return log;
  }

  /**
   * Takes `r` in place of the trial's record if it is further (a record of another rank or an
   * earlier run). A restarted rung's run this log does not hold yet (`budget` set: a later stage's,
   * made as the search goes) is added.
   */
  take(r: TrialRecord): void {
    const mine = this.#byId.get(r.id);
    if (!mine) {
      if (r.budget !== undefined) this.#append(r);
      return;
    }
    if (furtherRecord(mine, r) === mine) return;
    this.records[this.records.indexOf(mine)] = r;
    this.#byId.set(r.id, r);
  }

  /** Adds a pending record of `spec` (a restarted rung's run of a promoted config), unless it holds one. */
  async add(spec: TrialSpec): Promise<TrialRecord> {
    if (!this.#byId.has(spec.id)) {
      this.#append(newRecord(spec));
      await this.save();
    }
    return this.get(spec.id);
  }

  #append(r: TrialRecord): void {
    this.records.push(r);
    this.#byId.set(r.id, r);
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
    status: 'finished' | 'pruned' | 'failed' | 'promoted',
    detail: { prunedAt?: number; promotedTo?: number; error?: string } = {},
  ): Promise<void> {
    Object.assign(this.get(id), { status }, detail);
    await this.save();
  }

  /** Writes the records to the log's file (or to `path`). */
  async save(path = this.path): Promise<void> {
    await writeFileAtomic(path, [Buffer.from(this.records.map((r) => `${JSON.stringify(r)}\n`).join(''))]);
  }
}
