import { loadAddon } from './binding.js';
import { ErrorCode, VptError } from './errors.js';

/** The CUDA caching allocator's counters for one GPU, in bytes. */
export interface DeviceMemory {
  /** In live tensors now. */
  allocated: number;
  /** The most ever allocated at once, since the process started or the last `resetPeak`. */
  peakAllocated: number;
  /** Held from the driver by the allocator (what nvidia-smi shows, minus the CUDA context). */
  reserved: number;
  peakReserved: number;
}

/**
 * vpt-native's own device memory on `device` (same numbers as PyTorch's
 * `torch.cuda.memory_allocated` / `max_memory_allocated`); null on CPU or a CPU build.
 * @example
 * ```ts
 * deviceMemory('cuda:0', { resetPeak: true });
 * await model.trainStep(images, labels);
 * console.log(deviceMemory('cuda:0')!.peakAllocated / 2 ** 30, 'GiB');
 * ```
 */
export function deviceMemory(device = 'cuda', options: { resetPeak?: boolean } = {}): DeviceMemory | null {
  const match = /^(cpu|cuda)(?::(\d+))?$/.exec(device);
  if (!match)
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "device": expected "cpu", "cuda" or "cuda:N", got ${JSON.stringify(device)}`,
    );
  if (match[1] === 'cpu') return null;
  return loadAddon().addon.deviceMemory(Number(match[2] ?? 0), options.resetPeak ?? false);
}
