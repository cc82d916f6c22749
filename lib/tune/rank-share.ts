/**
 * A search spread over ranks (`tune --nproc N`, torchrun): the groups of each stage go round-robin
 * to the ranks, each rank records its trials in its own trials.rank-<r>.jsonl, and at the end of
 * a stage every rank waits for the others (a barrier on the c10d process group, whose TCPStore
 * rendezvous is the one data-parallel training uses) and merges their records, so every rank
 * takes the same halving decisions. The tune folder must be on a filesystem every rank sees.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { ProcessGroup } from '../distributed/process-group.js';
import { ErrorCode, VptError } from '../errors.js';
import type { TrialLog } from './trial-log.js';
import type { TrialRecord } from './trial-record.js';

/** The trials file rank `rank` of `worldSize` writes (rank 0 alone: the tune's trials.jsonl). */
export function rankTrialsFile(dir: string, rank: number, worldSize: number): string {
  return worldSize > 1 ? join(dir, `trials.rank-${rank}.jsonl`) : join(dir, 'trials.jsonl');
}

const TERMINAL = new Set(['finished', 'pruned', 'failed', 'promoted']);

/** The further of two records of one trial: more epochs, else a final status. */
export function furtherRecord(a: TrialRecord, b: TrialRecord): TrialRecord {
  if (a.epochs.length !== b.epochs.length) return a.epochs.length > b.epochs.length ? a : b;
  return TERMINAL.has(b.status) && !TERMINAL.has(a.status) ? b : a;
}

export async function readTrialRecords(path: string): Promise<TrialRecord[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line, i) => {
      try {
        return JSON.parse(line) as TrialRecord;
      } catch (error) {
        throw new VptError(ErrorCode.Data, `${path}:${i + 1} is not valid JSON: ${(error as Error).message}`);
      }
    });
}

export class RankShare {
  readonly #group: ProcessGroup;
  readonly #dir: string;

  constructor(group: ProcessGroup, dir: string) {
    this.#group = group;
    this.#dir = dir;
  }

  /** Whether this rank trains the `k`-th group of a stage. */
  owns(k: number): boolean {
    return k % this.#group.worldSize === this.#group.rank;
  }

  /** Waits for every rank, then takes into `log` the further record of each trial from every rank's file. */
  async sync(log: TrialLog): Promise<void> {
    await this.#group.barrier();
    const { worldSize } = this.#group;
    for (let rank = 0; rank < worldSize; rank++) {
      for (const r of await readTrialRecords(rankTrialsFile(this.#dir, rank, worldSize))) log.take(r);
    }
    await log.save();
    // No rank writes its file again before every rank has read them all.
    await this.#group.barrier();
  }
}
