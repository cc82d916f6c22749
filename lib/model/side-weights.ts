/**
 * The side-tuning baseline's AlexNet (transfer 'sidetune', KMnP/vpt MODEL.TRANSFER_TYPE 'side'):
 * torchvision's AlexNet state dict as safetensors, whose `features.{0,3,6,8,10}.{weight,bias}`
 * become the side network (native/model/side_network.h); its `classifier.*` is left out.
 */
import type { NativeModel } from '../binding.js';
import { callNative, ErrorCode, VptError } from '../errors.js';
import { FLOAT_DTYPES, readSafetensorsHeader } from '../weights/safetensors.js';

/** The smallest image side AlexNet's three max-pools leave a pixel of. */
export const SIDETUNE_MIN_IMAGE_SIZE = 63;

/**
 * Loads `path`'s AlexNet convolutions into `native`'s side network. A missing or mis-shaped
 * tensor is refused (VPT_WEIGHTS) with the file and tensor named.
 */
export async function loadSideWeights(native: NativeModel, path: string): Promise<void> {
  if (!path.endsWith('.safetensors')) {
    throw new VptError(
      ErrorCode.Weights,
      `${path}: the side-network weights must be a .safetensors file of torchvision's AlexNet state dict (see the README's side-tuning section for the conversion)`,
    );
  }
  const header = await readSafetensorsHeader(path);
  const entries = header.entries.filter((e) => !e.name.startsWith('classifier.'));
  const nonFloat = entries.filter((e) => !FLOAT_DTYPES.has(e.dtype));
  if (nonFloat.length > 0) {
    throw new VptError(
      ErrorCode.Weights,
      `${path}: tensors with non-float dtypes: ${nonFloat.map((e) => `${e.name} (${e.dtype})`).join(', ')}`,
    );
  }
  await callNative(() => native.loadSide(path, entries));
}
