/**
 * The head's initial bias. vpt-native starts it at 0; VPT's head (KMnP/vpt `MLP` with
 * `special_bias=True`) starts it at -log((1 - 0.01) / 0.01) = -log(99), a prior probability of
 * 0.01 per class. Under softmax cross-entropy a bias equal for every class shifts all logits
 * alike and changes neither the loss nor the gradients; it matters with weight decay on biases
 * or a sigmoid loss.
 */
import type { NativeModel } from '../binding.js';
import { callNative } from '../errors.js';

/** VPT's initial head bias, -log(99). */
export const VPT_HEAD_BIAS = -Math.log(99);

/** Sets every entry of the head's last bias (`head.bias`) to `value`. */
export async function setHeadBias(native: NativeModel, value: number): Promise<void> {
  const current = await callNative(() => native.exportTrainable());
  await callNative(() =>
    native.importTrainable(
      current.map((t) => (t.name === 'head.bias' ? { ...t, data: new Float32Array(t.data.length).fill(value) } : t)),
    ),
  );
}
