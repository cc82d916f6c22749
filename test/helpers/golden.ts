/** The golden fixtures' shared inputs: every `golden.safetensors` holds `images` and `labels`. */
import { join } from 'node:path';

import { type HostTensor, readSafetensors } from '../../lib/index.js';

/** `dir`/golden.safetensors: all its tensors, and its images and labels as the model takes them. */
export async function loadGolden(
  dir: string,
): Promise<{ g: Map<string, HostTensor>; images: Float32Array; labels: Int32Array }> {
  const g = (await readSafetensors(join(dir, 'golden.safetensors'))).tensors;
  return { g, images: g.get('images')!.data, labels: Int32Array.from(g.get('labels')!.data) };
}
