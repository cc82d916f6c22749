import { loadAddon } from './binding.js';
import type { HostHeapPolicy } from './host-heap-policy.js';
import { VERSION } from './version.js';

/** What vpt-native runs on. */
export interface RuntimeInfo {
  /** vpt-native's own version. */
  version: string;
  /** LibTorch version the addon runs on. */
  torchVersion: string;
  /** The addon was built against a CUDA LibTorch. */
  cudaBuild: boolean;
  /** CUDA is usable now (driver + device present). */
  cudaAvailable: boolean;
  /** The CUDA build has the fused add + LayerNorm kernels (built where nvcc was found). */
  cudaFusedKernels: boolean;
  cudaRuntime: string;
  gpus: { index: number; name: string; totalMemory: number; computeCapability: string }[];
  cpuThreads: number;
  interopThreads: number;
  blas: string;
  onednn: boolean;
  mkl: boolean;
  openmp: boolean;
  cpuCapability: string;
  /** libuv thread-pool size (image decodes and native calls run there). */
  threadPoolSize: number;
  /** Where the addon was loaded from. */
  addonPath: string;
  /** The LibTorch root the addon was built against. */
  torchRoot: string;
  /** JPEGs are decoded natively with libjpeg-turbo (PIL-exact); false: every image goes through sharp. */
  nativeJpeg: boolean;
  /** Data-parallel backends this build contains (Gloo: CPU, NCCL: CUDA). */
  distributedBackends: { gloo: boolean; nccl: boolean };
  /** How malloc treats freed CPU buffers in this process (lib/host-heap-policy.ts, `VPT_HOST_HEAP`). */
  hostHeap: HostHeapPolicy;
}

/**
 * Describes the LibTorch runtime: versions, CUDA, GPUs, CPU threads, BLAS.
 * @example
 * ```ts
 * import { runtimeInfo } from 'vpt-native';
 * const info = runtimeInfo();
 * console.log(info.torchVersion, info.cudaAvailable ? info.gpus[0]?.name : 'CPU');
 * ```
 */
export function runtimeInfo(): RuntimeInfo {
  const { addon, path, hostHeap } = loadAddon();
  const n = addon.runtimeInfo();
  return {
    version: VERSION,
    torchVersion: n.torchVersion,
    cudaBuild: n.cudaBuild,
    cudaAvailable: n.cudaAvailable,
    cudaFusedKernels: n.cudaFusedKernels,
    cudaRuntime: n.cudaRuntime,
    gpus: n.gpus,
    cpuThreads: n.cpuThreads,
    interopThreads: n.interopThreads,
    blas: n.blas,
    onednn: n.onednn,
    mkl: n.mkl,
    openmp: n.openmp,
    cpuCapability: n.cpuCapability,
    threadPoolSize: Number(process.env.UV_THREADPOOL_SIZE) || 4,
    addonPath: path,
    torchRoot: n.builtAgainstTorchRoot,
    nativeJpeg: typeof addon.decodeJpegFile === 'function',
    distributedBackends: addon.NativeProcessGroup.backends(),
    hostHeap,
  };
}
