/**
 * Hugging Face transformers ViT checkpoints (`ViTModel`, `ViTForImageClassification`: a
 * config.json with `"architectures": [...]`, tensors `embeddings.*`, `encoder.layer.*`) are a
 * different layout from timm's, which vpt-native does not read. They are recognised here so the
 * error says so, instead of an unknown architecture or a list of missing tensors.
 */
import { ErrorCode, VptError } from '../errors.js';

/** What to use instead, appended to every refusal. */
const USE_TIMM =
  "vpt-native does not read transformers checkpoints; use timm's weights of the model instead " +
  "(a hub id such as timm/vit_base_patch16_224.augreg_in21k, or a folder with timm's model.safetensors + config.json)";

/** Tensor names only a transformers ViT has (`vit.` prefixes them in the task models). */
const TRANSFORMERS_TENSOR =
  /^(?:vit\.)?(?:embeddings\.(?:patch_embeddings|cls_token|position_embeddings)|encoder\.layer\.\d+\.)/;

/**
 * Refuses a transformers `config.json` (one with an `architectures` list or a `model_type`, and
 * no timm `architecture`).
 * @throws VptError (VPT_ARCH) naming the file and the transformers class
 */
export function rejectTransformersConfig(config: Record<string, unknown>, configPath: string): void {
  if (typeof config.architecture === 'string') return;
  const classes = Array.isArray(config.architectures)
    ? config.architectures.filter((c): c is string => typeof c === 'string')
    : [];
  if (classes.length === 0 && typeof config.model_type !== 'string') return;
  const what = classes.length > 0 ? classes.join(', ') : `model_type "${String(config.model_type)}"`;
  throw new VptError(
    ErrorCode.Arch,
    `${configPath} is a Hugging Face transformers config (${what}), not a timm one: ${USE_TIMM}`,
  );
}

/**
 * Refuses a checkpoint whose tensors are named as transformers names a ViT's.
 * @throws VptError (VPT_ARCH) naming the file and a few of its tensors
 */
export function rejectTransformersTensors(names: readonly string[], path: string): void {
  const found = names.filter((n) => TRANSFORMERS_TENSOR.test(n));
  if (found.length === 0) return;
  throw new VptError(
    ErrorCode.Arch,
    `${path} holds a Hugging Face transformers ViT (tensors such as ${found.slice(0, 2).join(', ')}), not timm's layout: ${USE_TIMM}`,
  );
}
