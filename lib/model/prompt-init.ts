/**
 * VPT's prompt initiations from class-token embeddings (KMnP/vpt MODEL.PROMPT.INITIATION with
 * CLSEMB_PATH): a `.npy` of shape (tokens, depth + 1, D) -- per prompt token, the class token
 * entering each block and then the last block's output (`vpt-native cls-embeddings`).
 *   final-cls      every set = the last block's output            E[:, depth]
 *   cls-nolastl    set i (entering block i) = the CLS entering it  E[:, i]
 *   cls-nofirstl   set i = block i's output                        E[:, i + 1]
 * Set 0 is prompt_embeddings, set i > 0 deep_prompt_embeddings[i - 1] (VPT-deep).
 */
import type { NativeModel, NativeTensor } from '../binding.js';
import { callNative, ErrorCode, VptError } from '../errors.js';
import { readNpy } from '../weights/npy.js';
import type { PromptInit } from './options.js';

/** The prompt tensors `init` makes of `embeddings` (tokens x (depth + 1) x D, row-major). */
export function clsPromptTensors(
  init: Exclude<PromptInit, 'random'>,
  embeddings: Float32Array,
  o: { tokens: number; depth: number; embedDim: number; deep: boolean },
): NativeTensor[] {
  const { tokens: N, depth: L, embedDim: D } = o;
  const layer = (set: number) => (init === 'final-cls' ? L : init === 'cls-nolastl' ? set : set + 1);
  const sets = (first: number, count: number) => {
    const out = new Float32Array(count * N * D);
    for (let s = 0; s < count; s++) {
      const l = layer(first + s);
      for (let t = 0; t < N; t++) {
        const from = (t * (L + 1) + l) * D;
        out.set(embeddings.subarray(from, from + D), (s * N + t) * D);
      }
    }
    return out;
  };
  const tensors: NativeTensor[] = [{ name: 'prompt_embeddings', shape: [1, N, D], data: sets(0, 1) }];
  if (o.deep && L > 1) tensors.push({ name: 'deep_prompt_embeddings', shape: [L - 1, N, D], data: sets(1, L - 1) });
  return tensors;
}

/** Replaces the model's prompts with those `init` makes of the `.npy` at `path`. */
export async function initPromptsFromCls(
  native: NativeModel,
  init: Exclude<PromptInit, 'random'>,
  path: string,
  o: { tokens: number; depth: number; embedDim: number; deep: boolean },
): Promise<void> {
  const { shape, data } = await readNpy(path);
  const want = [o.tokens, o.depth + 1, o.embedDim];
  if (shape.length !== 3 || shape.some((d, i) => d !== want[i])) {
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "prompt.clsEmbeddings": ${path} has shape [${shape.join(', ')}]; init "${init}" needs [${want.join(', ')}] (prompt tokens, blocks + 1, width)`,
    );
  }
  const fresh = new Map(clsPromptTensors(init, data, o).map((t) => [t.name, t]));
  const current = await callNative(() => native.exportTrainable());
  await callNative(() => native.importTrainable(current.map((t) => fresh.get(t.name) ?? t)));
}
