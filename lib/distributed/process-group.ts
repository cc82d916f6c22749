/**
 * `ProcessGroup`: a c10d process group (LibTorch's TCPStore rendezvous + Gloo on CPU or NCCL on
 * CUDA), the same engine torch.distributed runs on. Models attach to it for data-parallel
 * training; evaluation sums its counters through it.
 */
import { loadAddon, type NativeProcessGroup } from '../binding.js';
import { callNative, ErrorCode, VptError } from '../errors.js';
import type { DistributedEnvironment } from './environment.js';

export interface JoinOptions extends DistributedEnvironment {
  /** 'gloo' (CPU tensors) or 'nccl' (CUDA tensors, one GPU per rank). */
  backend: 'gloo' | 'nccl';
  /** A rank that died or hangs makes the others fail with VPT_DISTRIBUTED after this long. */
  timeoutSeconds: number;
  /** NCCL: the GPU this rank's tensors are on (default: localRank). */
  cudaDevice?: number;
}

/** Which backends this build of the addon contains. */
export function availableBackends(): { gloo: boolean; nccl: boolean } {
  return loadAddon().addon.NativeProcessGroup.backends();
}

/**
 * Why a Gloo group cannot be joined with this addon, and what to run: the headers are found at
 * build time only, so installing them takes a rebuild of the addon.
 */
export const NO_GLOO_MESSAGE =
  'this build of vpt-native has no Gloo backend (data-parallel training on CPU): gloo headers were not found when the addon was built. ' +
  "Install them (Debian/Ubuntu: sudo apt-get install libgloo-dev; or set GLOO_INCLUDE_DIR to gloo's headers), " +
  'then rebuild the addon: `npx vpt-native setup --force` in a project that uses vpt-native, ' +
  '`npm run rebuild:native` (or `npm rebuild`) in a vpt-native checkout';

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly backend: 'gloo' | 'nccl';
  #native: NativeProcessGroup | undefined;

  private constructor(native: NativeProcessGroup, options: JoinOptions) {
    this.#native = native;
    this.rank = options.rank;
    this.worldSize = options.worldSize;
    this.localRank = options.localRank;
    this.backend = options.backend;
  }

  /**
   * Joins the group: rank 0 hosts the TCPStore at masterAddr:masterPort, every rank waits (off
   * the JS thread) until all `worldSize` ranks have joined or the timeout passes.
   * @throws VptError VPT_DISTRIBUTED when the rendezvous fails or times out, or the backend is not built in
   * @example
   * ```ts
   * const group = await ProcessGroup.join({ ...distributedFromEnv()!, backend: 'gloo', timeoutSeconds: 300 });
   * const [total] = await group.allReduceSum([localCount]);
   * group.dispose();
   * ```
   */
  static async join(options: JoinOptions): Promise<ProcessGroup> {
    if (!(options.timeoutSeconds > 0)) {
      throw new VptError(
        ErrorCode.Option,
        `Invalid option "distTimeout": expected a positive number of seconds, got ${String(options.timeoutSeconds)}`,
      );
    }
    const { addon } = loadAddon();
    if (options.backend === 'gloo' && !addon.NativeProcessGroup.backends().gloo)
      throw new VptError(ErrorCode.Distributed, NO_GLOO_MESSAGE);
    const native = new addon.NativeProcessGroup();
    await callNative(() =>
      native.join({
        rank: options.rank,
        worldSize: options.worldSize,
        masterAddr: options.masterAddr,
        masterPort: options.masterPort,
        backend: options.backend,
        timeoutMs: Math.round(options.timeoutSeconds * 1000),
        glooInterface: options.glooInterface,
        cudaDevice: options.cudaDevice ?? options.localRank,
      }),
    );
    return new ProcessGroup(native, options);
  }

  /** Rank 0 writes logs, metrics and checkpoints. */
  get isMain(): boolean {
    return this.rank === 0;
  }

  /** The elementwise sum of `values` over all ranks (every rank must call it, same length). */
  async allReduceSum(values: Float64Array | readonly number[]): Promise<Float64Array> {
    const native = this.#alive();
    return callNative(() => native.allReduceSum(values instanceof Float64Array ? values : Float64Array.from(values)));
  }

  /** Resolves once every rank has reached it. */
  async barrier(): Promise<void> {
    const native = this.#alive();
    await callNative(() => native.barrier());
  }

  /** Leaves the group. */
  dispose(): void {
    this.#native?.dispose();
    this.#native = undefined;
  }

  /** @internal The native group, for `Model.attachProcessGroup`. */
  get native(): NativeProcessGroup {
    return this.#alive();
  }

  #alive(): NativeProcessGroup {
    if (!this.#native) throw new VptError(ErrorCode.Disposed, 'the process group was disposed');
    return this.#native;
  }
}
