/**
 * Errors thrown by vpt-native. Every error has a stable `code`; native errors keep the
 * caller's JavaScript stack and never carry a C++ backtrace.
 */

/** Stable error codes. */
export const ErrorCode = {
  /** An option passed to the API or CLI is invalid; the message names it. */
  Option: 'VPT_OPTION',
  /** A weights file is missing tensors, has unexpected or mis-shaped ones, or is malformed. */
  Weights: 'VPT_WEIGHTS',
  /** The weights do not match the requested or configured architecture. */
  Arch: 'VPT_ARCH',
  /** A tensor, input batch or trainable-state file has the wrong shape for the model. */
  Shape: 'VPT_SHAPE',
  /** The requested device does not exist or is unavailable. */
  Device: 'VPT_DEVICE',
  /** Out of host or device memory. */
  OutOfMemory: 'VPT_OOM',
  /** A file could not be read or written. */
  Io: 'VPT_IO',
  /** A dataset is malformed or inconsistent (CUB metadata, split JSON, labels, image paths), or an image is bad; the message names the file, line or JSON entry. */
  Data: 'VPT_DATA',
  /**
   * An image has more pixels than the decoder's limit (`maxPixels`, VPT_MAX_IMAGE_PIXELS; default Pillow's
   * decompression-bomb limit, 178,956,970), stored or after resizing: refused from its header, before decoding.
   */
  ImageTooLarge: 'VPT_TOOLARGE',
  /** The model was disposed. */
  Disposed: 'VPT_DISPOSED',
  /** The native addon could not be loaded. */
  Addon: 'VPT_ADDON',
  /** Training diverged: the loss or gradient was not finite for several steps in a row. */
  NonFinite: 'VPT_NONFINITE',
  /** A training call came before `configureOptimizer`, or a training-state file does not fit. */
  Training: 'VPT_TRAINING',
  /** Data-parallel training: the rendezvous failed, or another rank died, hung past the timeout or lost its connection. */
  Distributed: 'VPT_DISTRIBUTED',
  /** A malformed argument reached the native layer (a bug in vpt-native if it happens). */
  Argument: 'VPT_ARGUMENT',
  /** A trainable state (a task) was trained on another backbone or architecture than the one it is loaded onto; the message names both. */
  Backbone: 'VPT_BACKBONE',
  /** Any other LibTorch error. */
  Torch: 'VPT_TORCH',
  /** Any other native exception. */
  Native: 'VPT_NATIVE',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The error class of every failure vpt-native reports. */
export class VptError extends Error {
  readonly code: ErrorCodeValue;

  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VptError';
    this.code = code;
  }
}

/** An option error that names the option, what was expected and what was given. */
export function invalidOption(name: string, expected: string, actual: unknown): VptError {
  return new VptError(ErrorCode.Option, `Invalid option "${name}": expected ${expected}, got ${describe(actual)}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

const knownCodes = new Set<string>(Object.values(ErrorCode));

/**
 * Awaits a native call and rethrows any failure as a VptError whose stack is the caller's
 * (native rejections carry no JavaScript stack of their own).
 */
export async function callNative<T>(call: () => Promise<T> | T): Promise<T> {
  const site = new Error();
  try {
    return await call();
  } catch (error) {
    throw fromNative(error, site.stack);
  }
}

/** `callNative` for the addon's synchronous calls: any failure becomes a VptError. */
export function callNativeSync<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw fromNative(error, new Error().stack);
  }
}

/** Converts an error thrown by the addon into a VptError. */
export function fromNative(error: unknown, stack?: string): VptError {
  if (error instanceof VptError) return error;
  const raw = error as { code?: unknown; message?: unknown };
  const code =
    typeof raw?.code === 'string' && knownCodes.has(raw.code) ? (raw.code as ErrorCodeValue) : ErrorCode.Native;
  const message = typeof raw?.message === 'string' ? raw.message : String(error);
  const wrapped = new VptError(code, message, { cause: error });
  if (stack) wrapped.stack = `VptError: ${message}\n${stack.split('\n').slice(1).join('\n')}`;
  return wrapped;
}
