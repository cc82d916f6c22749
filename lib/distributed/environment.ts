/**
 * The data-parallel setup of this process, from the environment torchrun, SLURM / Kubernetes
 * launchers and `vpt-native train --nproc` all set: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
 * MASTER_PORT (and GLOO_SOCKET_IFNAME, as torch.distributed reads it).
 */
import { ErrorCode, VptError } from '../errors.js';

export interface DistributedEnvironment {
  /** This process's rank, 0..worldSize-1. */
  rank: number;
  worldSize: number;
  /** Rank on this machine: picks the GPU (cuda:LOCAL_RANK). */
  localRank: number;
  /** Host of rank 0's TCPStore. */
  masterAddr: string;
  masterPort: number;
  /** Network interface for Gloo; '' = the one that reaches masterAddr. */
  glooInterface: string;
}

function integer(env: NodeJS.ProcessEnv, name: string, min: number, max: number, fallback?: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new VptError(
      ErrorCode.Option,
      `Environment variable ${name} is not set; data-parallel runs need RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (as torchrun sets them)`,
    );
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new VptError(
      ErrorCode.Option,
      `Environment variable ${name}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`,
    );
  }
  return n;
}

/**
 * The data-parallel environment, or null for a single-process run (WORLD_SIZE unset or 1).
 * @example
 * ```ts
 * const dist = distributedFromEnv();   // under `torchrun --nproc-per-node 2 --no-python ...`
 * if (dist) console.log(`rank ${dist.rank} of ${dist.worldSize}`);
 * ```
 */
export function distributedFromEnv(env: NodeJS.ProcessEnv = process.env): DistributedEnvironment | null {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === '') return null;
  const worldSize = integer(env, 'WORLD_SIZE', 1, 65536);
  if (worldSize === 1) return null;
  const rank = integer(env, 'RANK', 0, worldSize - 1);
  // Without LOCAL_RANK (a launcher that only sets RANK), ranks fill machines of LOCAL_WORLD_SIZE in order.
  const localWorldSize = integer(env, 'LOCAL_WORLD_SIZE', 1, worldSize, worldSize);
  const localRank = integer(env, 'LOCAL_RANK', 0, worldSize - 1, rank % localWorldSize);
  const masterAddr = env.MASTER_ADDR || '127.0.0.1';
  const masterPort = integer(env, 'MASTER_PORT', 1, 65535, 29500);
  return { rank, worldSize, localRank, masterAddr, masterPort, glooInterface: env.GLOO_SOCKET_IFNAME ?? '' };
}
