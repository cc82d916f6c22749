/**
 * Which PyTorch wheel `vpt-native setup` installs as the LibTorch: the CPU wheel, or with
 * `--cuda` the CUDA wheel for the newest CUDA the driver supports (pure logic; tested on
 * nvidia-smi output strings).
 *
 * The driver's "CUDA Version" (nvidia-smi's header) is the newest CUDA runtime it can run; a
 * wheel built for CUDA X.Y runs on drivers reporting >= X.Y. torch 2.13.0 ships wheels for
 * CUDA 12.6 (cu126), 12.8 (cu128) and 13.0 (cu130) on https://download.pytorch.org/whl/<tag>:
 *
 *   driver CUDA >= 13.0  -> cu130      (driver >= 580)
 *   driver CUDA 12.8-12.9 -> cu128     (driver >= 570)
 *   driver CUDA 12.6-12.7 -> cu126     (driver >= 560)
 *   older                -> none: update the driver, or use the CPU wheel
 *
 * `VPT_TORCH_CUDA=cu128` overrides the choice.
 */
export const TORCH_VERSION = '2.13.0';

/** CUDA wheel tags of TORCH_VERSION, newest first, with the CUDA version each needs. */
export const CUDA_WHEELS: ReadonlyArray<{ tag: string; cuda: string }> = [
  { tag: 'cu130', cuda: '13.0' },
  { tag: 'cu128', cuda: '12.8' },
  { tag: 'cu126', cuda: '12.6' },
];

/** A wheel to install with pip. */
export interface TorchWheel {
  /** pip requirement, e.g. `torch==2.13.0+cu128`. */
  spec: string;
  /** `cpu` or the CUDA tag: the variant the LibTorch will have. */
  variant: string;
  /** The PyTorch index serving it. */
  indexUrl: string;
  /** CUDA wheels need their nvidia-* dependencies (the CUDA libraries); the CPU wheel needs none. */
  withDeps: boolean;
}

/** The CPU wheel. */
export function cpuWheel(): TorchWheel {
  return {
    spec: `torch==${TORCH_VERSION}+cpu`,
    variant: 'cpu',
    indexUrl: 'https://download.pytorch.org/whl/cpu',
    withDeps: false,
  };
}

/** The driver's newest supported CUDA ("CUDA Version: 12.8" in nvidia-smi's header), or undefined. */
export function driverCudaVersion(nvidiaSmi: string): string | undefined {
  return /CUDA Version\s*:\s*(\d+\.\d+)/.exec(nvidiaSmi)?.[1];
}

const cudaNumber = (v: string) => {
  const [a = 0, b = 0] = v.split('.').map(Number);
  return a * 100 + b;
};

/**
 * The CUDA wheel for a driver whose nvidia-smi printed `nvidiaSmi`; throws a message saying
 * why there is none (no driver CUDA version in the output, or a driver older than every wheel).
 * @example
 * ```ts
 * cudaWheel('| NVIDIA-SMI 570.86.15  Driver Version: 570.86.15  CUDA Version: 12.8 |').spec; // 'torch==2.13.0+cu128'
 * ```
 */
export function cudaWheel(nvidiaSmi: string, override?: string): TorchWheel {
  const make = (tag: string): TorchWheel => ({
    spec: `torch==${TORCH_VERSION}+${tag}`,
    variant: tag,
    indexUrl: `https://download.pytorch.org/whl/${tag}`,
    withDeps: true,
  });
  if (override) {
    if (!/^cu\d+$/.test(override)) throw new Error(`VPT_TORCH_CUDA=${override}: expected a wheel tag such as cu128`);
    return make(override);
  }
  const driver = driverCudaVersion(nvidiaSmi);
  if (!driver)
    throw new Error('nvidia-smi did not report a CUDA version (is the NVIDIA driver installed and a GPU visible?)');
  const wheel = CUDA_WHEELS.find((w) => cudaNumber(w.cuda) <= cudaNumber(driver));
  if (!wheel) {
    const oldest = CUDA_WHEELS[CUDA_WHEELS.length - 1]!;
    throw new Error(
      `the NVIDIA driver supports CUDA ${driver}, older than every torch ${TORCH_VERSION} CUDA wheel (the oldest needs CUDA ${oldest.cuda}); update the driver, or run setup without --cuda for the CPU LibTorch`,
    );
  }
  return make(wheel.tag);
}
