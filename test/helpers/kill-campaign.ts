/**
 * Runs `vpt-native train` (or `tune`) as a child process and SIGKILLs it at seeded random moments,
 * resuming after each kill from the run's last.state.safetensors (the tune's tune.json), or
 * starting over (--force) when no state was written yet, until a run finishes. Used by
 * test/train/kill-resume.test.ts and test/tune/kill-resume.test.ts (a handful of kills) and, with
 * VPT_KILL_CAMPAIGN=<kills>, for a long campaign.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../../lib/binding.js';

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Lines the run printed (progress events) before it ended, and how many up to its last epoch event. */
  lines: number;
  linesToLastEpoch: number;
}

/**
 * `vpt-native <args>`; `killAt` decides, for each printed line (index, text) and once at start
 * (index -1), after how many ms to SIGKILL the process (undefined: not now).
 */
export function runCli(args: string[], killAt?: (line: number, text: string) => number | undefined): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    // One LibTorch thread: on a loaded machine (CI, other jobs) its intra-op threads wait on each
    // other at every small op, and a run takes ten times as long. Every run here uses the same.
    const child = spawn(process.execPath, [join(packageRoot, 'dist', 'bin', 'launch.cjs'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    let stdout = '',
      stderr = '',
      pending = '',
      lines = 0,
      linesToLastEpoch = 0,
      armed = false;
    const arm = (ms: number | undefined) => {
      if (ms === undefined || armed) return;
      armed = true;
      setTimeout(() => child.kill('SIGKILL'), ms);
    };
    arm(killAt?.(-1, ''));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      pending += d;
      const all = pending.split('\n');
      pending = all.pop()!;
      for (const l of all) {
        arm(killAt?.(lines, l));
        lines++;
        // An epoch's state is saved: a train epoch, a tune trial's epoch or a tune final run's epoch.
        if (/"type":\s*"(trial-)?epoch"/.test(l)) linesToLastEpoch = lines;
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, lines, linesToLastEpoch }));
  });
}

/** A small seeded generator (mulberry32): the kill moments are the same on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a killed run resumes from, and the flags that resume it. */
export interface ResumePoint {
  /** The file whose presence means there is something to resume. */
  file: string;
  flags: string[];
}

/** `train`'s: --resume <out>/last.state.safetensors. */
export function trainResume(out: string): ResumePoint {
  const file = join(out, 'last.state.safetensors');
  return { file, flags: ['--resume', file] };
}

export interface Campaign {
  /** Runs killed (by SIGKILL), and how many of them had no state to resume from afterwards. */
  kills: number;
  restarts: number;
  /** Planned kills that did not happen: the run finished (summary.json written) first; the campaign ends there. */
  finishedFirst: number;
  /** Runs in all, the final unkilled one included. */
  runs: number;
}

/**
 * Trains `flags` (a `train` or `tune` command line without --resume / --force) into `out`, SIGKILLing it
 * `kills` times. Half the kills come at a random time after the start (0..`startWindowMs`: start-up,
 * config and first writes); the others a random 0..20 ms after a random one of the progress lines
 * still to come (`totalLines` is how many an uninterrupted run prints), which lands them in and
 * around the epochs' writes. A kill loses the epoch in progress: the state is written at epoch ends.
 * @throws when a run fails other than by the kill
 */
export async function killCampaign(
  flags: string[],
  out: string,
  kills: number,
  seed: number,
  totalLines: number,
  startWindowMs: number,
  resumePoint: ResumePoint = trainResume(out),
): Promise<Campaign> {
  const random = seeded(seed);
  const state = resumePoint.file;
  const result: Campaign = { kills: 0, restarts: 0, finishedFirst: 0, runs: 0 };
  let done = 0; // progress lines up to the last saved epoch
  for (let i = 0; ; i++) {
    const resume = existsSync(state);
    const args = resume ? [...flags, ...resumePoint.flags, '--json'] : [...flags, '--force', '--json'];
    const killing = i < kills;
    let killAt: ((line: number) => number | undefined) | undefined;
    if (killing && random() < 0.5) {
      const ms = Math.floor(random() * startWindowMs);
      killAt = (line) => (line === -1 ? ms : undefined);
    } else if (killing) {
      const at = Math.floor(random() * Math.max(1, totalLines - done));
      const ms = Math.floor(random() * 20);
      killAt = (line) => (line === at ? ms : undefined);
    }
    const run = await runCli(args, killAt);
    result.runs++;
    if (process.env.VPT_KILL_VERBOSE)
      console.log(
        `run ${i}: ${resume ? 'resumed' : 'fresh'}, ${run.signal ?? run.code}, ${run.lines} lines, state: ${existsSync(state)}`,
      );
    if (run.signal === 'SIGKILL') {
      result.kills++;
      // Killed after its summary was written (on its way out): the run is complete.
      if (existsSync(join(out, 'summary.json'))) {
        result.finishedFirst += kills - i - 1;
        return result;
      }
      if (existsSync(state)) done += run.linesToLastEpoch;
      else {
        result.restarts++;
        done = 0;
      }
      continue;
    }
    if (run.code !== 0) {
      throw new Error(`run ${i} (${resume ? 'resumed' : 'fresh'}) failed with ${run.code}: ${run.stderr}`);
    }
    if (killing) result.finishedFirst += kills - i;
    return result;
  }
}
