/**
 * Google's Flax ViT checkpoints (`.npz` files of google-research/vision_transformer, augreg and
 * big_vision): which arrays are the backbone, what their shapes say about the architecture, and
 * the architecture a file name such as `ViT-B_16.npz` implies. The native side converts the
 * layouts (native/weights/google_layout.h).
 */
import { basename } from 'node:path';

import type { NativeTensorEntry } from '../binding.js';
import { ErrorCode, VptError } from '../errors.js';
import type { CheckpointShape } from './architecture.js';
import type { NpzOtherArray } from './npz.js';

/** Prefixes Google checkpoints put before the parameter names (Flax optimizer state, big_vision). */
const PREFIXES = ['opt/target/', 'params/', ''];
/** Arrays the backbone never uses: the classifier and the 21k checkpoints' representation layer. */
const IGNORED = ['head/', 'pre_logits/'];

/** Google's size letters in file names (ViT-B_16, augreg's S_16-...). */
const SIZE_NAMES: Record<string, string> = { Ti: 'tiny', S: 'small', B: 'base', L: 'large', H: 'huge' };
/** `ViT-B_16.npz`, `imagenet21k_ViT-B_16.npz`, `B_16-i21k-300ep-....npz`; hybrids (R50+ViT-B_16, R26_S_32) do not match. */
const FILE_NAME_PATTERN = /^(?:imagenet21k(?:\+imagenet2012)?_)?(?:ViT-)?(Ti|S|B|L|H)_(\d+)(?=$|[-_.])/;

/** The backbone arrays of a Google checkpoint, keyed without their prefix. */
export interface GoogleBackbone {
  entries: NativeTensorEntry[];
  shape: CheckpointShape;
}

/** Whether the array named `name` is one the backbone takes from a checkpoint whose parameters are under `prefix`. */
function isBackboneArray(name: string, prefix: string): boolean {
  return name.startsWith(prefix) && !IGNORED.some((i) => name.slice(prefix.length).startsWith(i));
}

/**
 * Picks the backbone arrays out of a Google checkpoint's arrays: those under the `opt/target/`
 * or `params/` prefix (or none), without `head/` and `pre_logits/`. Arrays of dtypes vpt-native
 * does not read (`others`, e.g. a Flax optimizer's `opt/state/step`) are refused only when they
 * are among these.
 * @throws VptError (VPT_WEIGHTS) when no `embedding/kernel` is found, or a backbone array is not a float array
 */
export function googleBackbone(
  arrays: NativeTensorEntry[],
  path: string,
  others: readonly NpzOtherArray[] = [],
): GoogleBackbone {
  const names = new Set([...arrays, ...others].map((a) => a.name));
  const prefix = PREFIXES.find((p) => names.has(`${p}embedding/kernel`));
  if (prefix === undefined) {
    throw new VptError(
      ErrorCode.Weights,
      `${path} has no "embedding/kernel" array (nor under opt/target/ or params/): not a Google ViT checkpoint`,
    );
  }
  const unreadable = others.find((a) => isBackboneArray(a.name, prefix));
  if (unreadable) {
    throw new VptError(
      ErrorCode.Weights,
      `${path}: array "${unreadable.name}" has dtype '${unreadable.descr}'; only float16/32/64 arrays are supported`,
    );
  }
  const entries = arrays
    .filter((a) => isBackboneArray(a.name, prefix))
    .map((a) => ({ ...a, name: a.name.slice(prefix.length) }));
  return { entries, shape: googleCheckpointShape(entries) };
}

function googleCheckpointShape(entries: NativeTensorEntry[]): CheckpointShape {
  const byName = new Map(entries.map((e) => [e.name, e.shape]));
  const shape: CheckpointShape = { classToken: byName.has('cls') };
  const kernel = byName.get('embedding/kernel'); // (p, p, C, D)
  if (kernel?.length === 4) [shape.patchSize, , shape.inChans, shape.embedDim] = kernel;
  const blocks = entries.map((e) => /^Transformer\/encoderblock_(\d+)\//.exec(e.name)).filter((m) => m !== null);
  if (blocks.length > 0) shape.depth = Math.max(...blocks.map((m) => Number(m[1]))) + 1;
  const pos = byName.get('Transformer/posembed_input/pos_embedding') ?? byName.get('pos_embedding'); // (1, T, D)
  if (pos?.length === 3) shape.posTokens = pos[1];
  const block0 = 'Transformer/encoderblock_0/';
  const query =
    byName.get(`${block0}MultiHeadDotProductAttention_1/query/kernel`) ??
    byName.get(`${block0}MultiHeadDotProductAttention_0/query/kernel`);
  if (query?.length === 3) shape.numHeads = query[1]; // (D, H, hd)
  const fc1 = byName.get(`${block0}MlpBlock_3/Dense_0/kernel`) ?? byName.get(`${block0}MlpBlock_0/Dense_0/kernel`);
  if (fc1?.length === 2) shape.mlpHidden = fc1[1]; // (D, M)
  return shape;
}

/**
 * The timm architecture a Google file name implies, sized by the checkpoint's own grid:
 * `ViT-B_16.npz` with a 14 x 14 position grid is `vit_base_patch16_224`.
 * @returns undefined when the name says nothing (or names a hybrid)
 * @example
 * ```ts
 * archFromGoogleFileName('imagenet21k/ViT-B_16.npz', { posTokens: 197, classToken: true }); // 'vit_base_patch16_224'
 * ```
 */
export function archFromGoogleFileName(path: string, shape: CheckpointShape): string | undefined {
  const m = FILE_NAME_PATTERN.exec(basename(path).replace(/\.npz$/i, ''));
  if (!m || shape.posTokens === undefined) return undefined;
  const patch = Number(m[2]);
  const grid = Math.sqrt(shape.posTokens - (shape.classToken ? 1 : 0));
  if (!Number.isInteger(grid) || grid < 1) return undefined;
  return `vit_${SIZE_NAMES[m[1]!]}_patch${patch}_${grid * patch}`;
}
