/**
 * The wall time of a tune over all its calls (a tune interrupted and resumed is several
 * `tune()` calls): calls.json in the tune folder lists each call's start and seconds, and
 * summary.json's `seconds` is their sum. The running call's entry is rewritten as it goes (at
 * most every `SAVE_EVERY_MS`, and when it ends or is interrupted), so a call that is killed
 * still counts up to its last save.
 */
import { readFile } from 'node:fs/promises';

import { writeFileAtomic } from '../util/atomic-write.js';

/** One `tune()` call: when it started (ISO 8601) and how long it ran. */
export interface TuneCall {
  started: string;
  seconds: number;
}

/** The least time between two saves of the running call's entry. */
const SAVE_EVERY_MS = 2000;

export class TuneClock {
  readonly #path: string;
  readonly #earlier: TuneCall[];
  readonly #started: string;
  readonly #startedAt: number;
  readonly #now: () => number;
  #lastSave = -Infinity;
  #saving: Promise<void> = Promise.resolve();

  private constructor(path: string, earlier: TuneCall[], startedAt: number, now: () => number) {
    this.#path = path;
    this.#earlier = earlier;
    this.#startedAt = startedAt;
    this.#now = now;
    this.#started = new Date(Date.now() - (now() - startedAt)).toISOString();
  }

  /**
   * The clock of the call that started at `startedAt` (a `now()` reading), after the calls
   * recorded in `path` when the tune is resumed (a missing or unreadable file counts none).
   */
  static async open(
    path: string,
    resume: boolean,
    startedAt: number,
    now: () => number = () => performance.now(),
  ): Promise<TuneClock> {
    let earlier: TuneCall[] = [];
    if (resume) {
      try {
        const saved = JSON.parse(await readFile(path, 'utf8')) as { calls?: unknown };
        if (Array.isArray(saved.calls))
          earlier = saved.calls.filter(
            (c): c is TuneCall =>
              typeof c === 'object' &&
              c !== null &&
              Number.isFinite((c as TuneCall).seconds) &&
              (c as TuneCall).seconds >= 0,
          );
      } catch {
        // A tune folder from before calls.json, or a damaged one: the earlier calls' time is unknown.
      }
    }
    return new TuneClock(path, earlier, startedAt, now);
  }

  /** This call's seconds so far. */
  get callSeconds(): number {
    return (this.#now() - this.#startedAt) / 1000;
  }

  /** Every call's seconds so far, this one's included. */
  get seconds(): number {
    return this.#earlier.reduce((s, c) => s + c.seconds, 0) + this.callSeconds;
  }

  /** The calls as recorded now, this one last. */
  get calls(): TuneCall[] {
    return [...this.#earlier, { started: this.#started, seconds: this.callSeconds }];
  }

  /**
   * Saves this call's time, in the background, if the last save is `SAVE_EVERY_MS` old. A failed
   * background save is left for the next one (`save()` reports its own failure).
   */
  tick(): void {
    if (this.#now() - this.#lastSave >= SAVE_EVERY_MS) this.save().catch(() => {});
  }

  /** Saves this call's time now (saves run one at a time, in order). */
  save(): Promise<void> {
    this.#lastSave = this.#now();
    const text = `${JSON.stringify({ calls: this.calls }, null, 2)}\n`;
    const saving = this.#saving.catch(() => {}).then(() => writeFileAtomic(this.#path, [Buffer.from(text)]));
    this.#saving = saving;
    return saving;
  }
}
