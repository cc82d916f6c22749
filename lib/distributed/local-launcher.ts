/**
 * `vpt-native train --nproc N`: starts N copies of this command on this machine, each with the
 * environment torchrun would give it (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
 * MASTER_ADDR=127.0.0.1, a free MASTER_PORT), and waits for them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism, constants } from 'node:os';

export interface LaunchOptions {
  nproc: number;
  /** The command line of one worker: program and arguments (without --nproc). */
  argv: string[];
  /**
   * After one worker fails the others cannot finish (every step needs all ranks): they get this
   * long to stop on their own, then SIGTERM, then SIGKILL 5 s later (as torchrun does).
   */
  graceSeconds: number;
  env?: NodeJS.ProcessEnv;
  /** Told when a worker ends (for the CLI's message). */
  onExit?: (rank: number, code: number | null, signal: NodeJS.Signals | null) => void;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Runs the workers; resolves with the exit code: 0 when all succeeded, else the first failing
 * worker's code (128 + signal number for a signal). SIGINT / SIGTERM are passed on to every
 * worker once (they save their state and stop at the same step).
 * @example
 * ```ts
 * const code = await launchLocalWorkers({ nproc: 2, argv: [process.execPath, 'vpt-native.js', 'train', ...], graceSeconds: 60 });
 * ```
 */
export async function launchLocalWorkers(options: LaunchOptions): Promise<number> {
  const { nproc, argv, graceSeconds } = options;
  const port = await freePort();
  const baseEnv = options.env ?? process.env;
  // As torchrun: share the cores out, unless the user chose a thread count.
  const threads = String(Math.max(1, Math.floor(availableParallelism() / nproc)));
  const children: ChildProcess[] = [];
  let firstFailure: number | undefined;
  const timers: NodeJS.Timeout[] = [];

  const forward = (signal: NodeJS.Signals) => signalAlive(children, signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    const exits = Array.from({ length: nproc }, (_, rank) => {
      const child = spawn(argv[0]!, argv.slice(1), {
        stdio: 'inherit',
        // Own process group: a terminal's Ctrl-C reaches the launcher only, which passes it on once.
        detached: true,
        env: {
          ...baseEnv,
          RANK: String(rank),
          WORLD_SIZE: String(nproc),
          LOCAL_RANK: String(rank),
          LOCAL_WORLD_SIZE: String(nproc),
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: String(port),
          OMP_NUM_THREADS: baseEnv.OMP_NUM_THREADS ?? threads,
        },
      });
      children.push(child);
      return new Promise<void>((resolve) => {
        child.once('error', () => {
          firstFailure ??= 1;
          resolve();
        });
        child.once('exit', (code, signal) => {
          options.onExit?.(rank, code, signal);
          if (code !== 0) {
            firstFailure ??= code ?? 128 + (signal ? constants.signals[signal] : 1);
            if (!timers.length) {
              timers.push(setTimeout(() => signalAlive(children, 'SIGTERM'), graceSeconds * 1000));
              timers.push(setTimeout(() => signalAlive(children, 'SIGKILL'), (graceSeconds + 5) * 1000));
            }
          }
          resolve();
        });
      });
    });
    await Promise.all(exits);
    return firstFailure ?? 0;
  } finally {
    for (const timer of timers) clearTimeout(timer);
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}

function signalAlive(children: ChildProcess[], signal: NodeJS.Signals): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}
