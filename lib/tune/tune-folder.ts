/**
 * The files of a tune folder:
 *   tune.json              the resolved search (grid, rules, shared train settings)
 *   trials.jsonl           one line per trial: grid point, status, per-epoch metrics
 *                          (over N ranks: each rank's trials.rank-<r>.jsonl while the search runs)
 *   trials/<id>/           each trial's train config (config.json) and training state
 *   leaderboard.md / .csv  every trial, best first
 *   heatmap.png            val top-1 over lr x wd
 *   best-config.yaml       the chosen config, for `train --config`
 *   final/seed-<seed>/     the final runs, as `train` writes them
 *   summary.json           chosen config, val top-1, test top-1 mean / std, epochs, time
 *   calls.json             each tune() call's start and seconds (a resumed tune has several)
 *   stacked-step.json      whether the search stacks each group's steps, and auto's timing of it
 *                          (a resume keeps the decision; over N ranks each rank > 0 has its own)
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { ErrorCode, VptError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export class TuneFolder {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  get files() {
    const f = (name: string) => join(this.dir, name);
    return {
      tune: f('tune.json'),
      trials: f('trials.jsonl'),
      trialsDir: f('trials'),
      leaderboardMd: f('leaderboard.md'),
      leaderboardCsv: f('leaderboard.csv'),
      heatmap: f('heatmap.png'),
      bestConfig: f('best-config.yaml'),
      finalDir: f('final'),
      summary: f('summary.json'),
      calls: f('calls.json'),
      stackedStep: f('stacked-step.json'),
    };
  }

  trialDir(id: string): string {
    return join(this.files.trialsDir, id);
  }

  /** trials.jsonl and the per-rank trials.rank-<r>.jsonl of a tune spread over ranks. */
  async trialFiles(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names
      .filter((n) => /^trials(\.rank-\d+)?\.jsonl$/.test(n))
      .sort()
      .map((n) => join(this.dir, n));
  }

  /** Whether a tune was started here. */
  holdsTune(): boolean {
    return existsSync(this.files.tune);
  }

  /** Refuses a folder holding another tune unless it is to be replaced or resumed. */
  check(resume: boolean, overwrite: boolean): void {
    if (resume && !this.holdsTune())
      throw new VptError(
        ErrorCode.Option,
        `Invalid option "resume": ${this.dir} holds no tune (tune.json) to continue`,
      );
    if (!resume && !overwrite && this.holdsTune())
      throw new VptError(
        ErrorCode.Option,
        `${this.dir} holds a tune already: --resume continues it, --force replaces it (or choose another --out)`,
      );
  }

  /** The saved search of a resumed tune, which must equal this one. */
  async checkSameSearch(search: unknown): Promise<void> {
    const saved = await readFile(this.files.tune, 'utf8');
    if (saved !== JSON.stringify(search, null, 2)) {
      throw new VptError(
        ErrorCode.Option,
        `Invalid option "resume": ${this.files.tune} was written for another search (grid, rules or train settings differ); resume with the same options, or --force to start over`,
      );
    }
  }

  async create(search: unknown, overwrite: boolean): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    if (overwrite) {
      const f = this.files;
      for (const p of [
        ...(await this.trialFiles()),
        f.trialsDir,
        f.leaderboardMd,
        f.leaderboardCsv,
        f.heatmap,
        f.bestConfig,
        f.finalDir,
        f.summary,
        f.calls,
        f.stackedStep,
        ...(await readdir(this.dir).catch(() => [] as string[]))
          .filter((n) => /^stacked-step\.rank-\d+\.json$/.test(n))
          .map((n) => join(this.dir, n)),
      ])
        await rm(p, { recursive: true, force: true });
    }
    await this.writeText(this.files.tune, JSON.stringify(search, null, 2));
  }

  async writeText(path: string, text: string): Promise<void> {
    await writeFileAtomic(path, [Buffer.from(text)]);
  }
}
