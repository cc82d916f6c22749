/**
 * How glibc malloc treats the buffers LibTorch frees on the CPU, set once when the addon loads.
 *
 * By default glibc gives memory back to the system as soon as a free leaves more than its trim
 * threshold at an arena's top, and serves large requests from mappings of their own that go back
 * on free. A train step frees and requests the same buffers again every step, so each step
 * faulted in fresh zeroed pages. vpt-native keeps them instead (`keep`, the default): requests
 * below 1 GiB come from the arenas, and up to 1 GiB of free memory stays at an arena's top. The
 * CPU train step measured 7-8% (fp32) and 12-13% (bf16) faster with it, the eval step even and
 * peak RSS unchanged (ViT-Ti/16, 2 threads: bench/host-heap.mjs, bench/RESULTS.md). A run
 * still gives the free pages back after each epoch's writes (`trimHostHeap`, lib/host-heap.ts).
 *
 * `VPT_HOST_HEAP=default` leaves glibc's defaults. Malloc settings of the user's own
 * (`GLIBC_TUNABLES` with `glibc.malloc.*`, or `MALLOC_TRIM_THRESHOLD_`, `MALLOC_MMAP_THRESHOLD_`,
 * `MALLOC_TOP_PAD_`) win: nothing is changed then.
 */
import { ErrorCode, VptError } from './errors.js';

/** The mallopt values `keep` sets (bytes). */
export const KEPT_HOST_HEAP = {
  /** Requests below this come from malloc's arenas, not mappings of their own. */
  mmapThreshold: 2 ** 30,
  /** Free memory at an arena's top up to this stays mapped. */
  trimThreshold: 2 ** 30,
  /** Each growth of the main heap asks for this much more. */
  topPad: 64 * 2 ** 20,
} as const;

/** What was decided for this process, and why. */
export interface HostHeapPolicy {
  /** `keep`: the settings above are in effect; `default`: glibc's (or the user's own). */
  mode: 'keep' | 'default';
  /** Why, in words (for `vpt-native info`). */
  reason: string;
}

const USER_MALLOC_ENV = ['MALLOC_TRIM_THRESHOLD_', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TOP_PAD_'] as const;

/** The policy `env` asks for, before it is applied: `keep` unless turned off or the user set malloc up. */
export function requestedHostHeapPolicy(env: NodeJS.ProcessEnv): HostHeapPolicy {
  const asked = env.VPT_HOST_HEAP?.trim();
  if (asked !== undefined && asked !== '' && asked !== 'keep' && asked !== 'default')
    throw new VptError(ErrorCode.Argument, `VPT_HOST_HEAP: '${asked}' is not 'keep' or 'default'`);
  if (asked === 'default') return { mode: 'default', reason: "glibc's defaults (VPT_HOST_HEAP=default)" };
  if (/(^|:)glibc\.malloc\./.test(env.GLIBC_TUNABLES ?? ''))
    return { mode: 'default', reason: 'the malloc settings of GLIBC_TUNABLES' };
  const own = USER_MALLOC_ENV.find((name) => env[name] !== undefined);
  if (own) return { mode: 'default', reason: `the malloc settings of ${own}` };
  return {
    mode: 'keep',
    reason:
      'freed buffers kept for reuse (below 1 GiB from the heap, up to 1 GiB kept; VPT_HOST_HEAP=default turns it off)',
  };
}

/**
 * Applies `policy` (requestedHostHeapPolicy) through the addon's `keepHostHeap` (mallopt) and
 * returns what is in effect: an addon without it, or a C library that is not glibc, leaves the
 * defaults. lib/binding.ts calls it once, when the addon loads.
 */
export function applyHostHeapPolicy(
  addon: { keepHostHeap?(mmapThreshold: number, trimThreshold: number, topPad: number): boolean },
  policy: HostHeapPolicy,
): HostHeapPolicy {
  if (policy.mode === 'default') return policy;
  if (!addon.keepHostHeap) return { mode: 'default', reason: "glibc's defaults (this addon build cannot set them)" };
  const { mmapThreshold, trimThreshold, topPad } = KEPT_HOST_HEAP;
  return addon.keepHostHeap(mmapThreshold, trimThreshold, topPad)
    ? policy
    : { mode: 'default', reason: "the C library's defaults (not glibc, or it refused the settings)" };
}
