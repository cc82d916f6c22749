/**
 * MoCo v3 checkpoints (facebookresearch/moco-v3; the ViT-B VPT uses as `mocov3_vitb`), exported
 * by the user from the `.pth.tar` to safetensors (vpt-native never unpickles), in timm's names.
 *
 * - The linear-probe checkpoint VPT loads (`linear-vit-b-300ep.pth.tar`, which VPT's
 *   build_mocov3_model reads as `mocov3_linear-vit-b-300ep.pth.tar`): a DataParallel
 *   state_dict, every name under `module.`: `module.patch_embed.proj.*`, `module.cls_token`,
 *   `module.pos_embed` (MoCo's fixed 2D sin-cos, stored because it is a parameter with
 *   requires_grad off), `module.blocks.N.*`, `module.norm.*` and `module.head.*` (the ImageNet
 *   linear classifier). These are timm's names once `module.` is stripped, as VPT strips it.
 * - The pretraining checkpoint (`vit-b-300ep.pth.tar`): `module.base_encoder.*` (the same
 *   backbone; main_lincls.py freezes it while it trains the classifier, so the linear-probe
 *   checkpoint's backbone equals it), its `head.*` a projection MLP with BatchNorm (not a
 *   classifier), and `module.momentum_encoder.*` / `module.predictor.*`, which only pretraining
 *   uses. The base encoder is loaded; the projection, momentum encoder and predictor are left
 *   out, by name, knowingly. A file holding only a momentum encoder is refused.
 * - MoCo v3's conv-stem ViTs (`vit_conv_base`, `patch_embed.proj.0.*`) are refused: VPT uses
 *   the plain ViT-B.
 * Without `pos_embed` (an export that dropped non-trainable tensors), the model computes MoCo's
 * sin-cos embedding itself (native weights/ssl_checkpoint.h).
 */
import type { NativeTensorEntry } from '../binding.js';
import { ErrorCode, VptError } from '../errors.js';

/** What a MoCo v3 checkpoint turned out to be. */
export interface MocoV3Layout {
  /** `linear`: the linear-probe checkpoint (`module.`); `pretrain`: `[module.]base_encoder.`. */
  kind: 'linear' | 'pretrain';
  /** The name prefix stripped from the backbone's tensors. */
  prefix: string;
  /** The backbone tensors under timm's names (the classifier / projection head left out). */
  entries: NativeTensorEntry[];
  /** Names left out knowingly: the head (classifier or projection MLP), momentum encoder, predictor. */
  ignored: string[];
  /** The checkpoint has no position embedding: MoCo's fixed 2D sin-cos one is computed. */
  sincosPosEmbed: boolean;
}

/** MoCo v3's normalisation (ImageNet's mean / std, its main_moco.py and main_lincls.py transforms). */
export const MOCO_V3_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const MOCO_V3_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** timm's name for MoCo v3's ViT-B/16 (patch 16, width 768, 12 blocks, 12 heads, qkv bias, eps 1e-6). */
export const MOCO_V3_VIT_B = 'vit_base_patch16_224';

const PATCH = 'patch_embed.proj.weight';
const CONV_STEM = 'patch_embed.proj.0.weight';
/** Pretraining-only parts, under the same DataParallel prefix as the base encoder (or none). */
const PRETRAIN_ONLY = ['momentum_encoder.', 'predictor.'];

/**
 * Detects a MoCo v3 checkpoint from its tensor names and maps it to timm's names; null when
 * the names are not MoCo v3's (a timm file passes unchanged).
 * @example
 * ```ts
 * const layout = mocoV3Layout(header.entries, 'mocov3_linear-vit-b-300ep.safetensors');
 * if (layout) console.log(layout.kind, layout.ignored.length);
 * ```
 */
export function mocoV3Layout(entries: NativeTensorEntry[], path: string): MocoV3Layout | null {
  const names = new Set(entries.map((e) => e.name));
  const found = (['module.base_encoder.', 'base_encoder.', 'module.'] as const).find(
    (p) => names.has(p + PATCH) || names.has(p + CONV_STEM),
  );
  if (found === undefined) {
    const momentum = ['module.momentum_encoder.', 'momentum_encoder.'].find(
      (p) => names.has(p + PATCH) || names.has(p + CONV_STEM),
    );
    if (momentum !== undefined) {
      throw new VptError(
        ErrorCode.Weights,
        `${path} holds MoCo v3's momentum encoder (${momentum}*) without its base encoder: VPT and vpt-native use the base encoder (module.base_encoder.* of the pretraining checkpoint, or the linear-probe checkpoint's module.*); export that one`,
      );
    }
    return null;
  }
  if (names.has(found + CONV_STEM)) {
    throw new VptError(
      ErrorCode.Weights,
      `${path} is MoCo v3's conv-stem ViT (${found}${CONV_STEM}): vpt-native builds the plain ViT VPT uses (vit_base, patch_embed.proj.weight)`,
    );
  }
  const outer = found.endsWith('base_encoder.') ? found.slice(0, -'base_encoder.'.length) : '';
  const kind = found === 'module.' ? 'linear' : 'pretrain';
  const mapped: NativeTensorEntry[] = [];
  const ignored: string[] = [];
  const unknown: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith(found)) {
      const name = e.name.slice(found.length);
      if (name.startsWith('head.')) ignored.push(e.name);
      else mapped.push({ ...e, name });
    } else if (kind === 'pretrain' && PRETRAIN_ONLY.some((p) => e.name.startsWith(outer + p))) {
      ignored.push(e.name);
    } else {
      unknown.push(e.name);
    }
  }
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 5).join(', ') + (unknown.length > 5 ? `, ... (${unknown.length} in all)` : '');
    throw new VptError(
      ErrorCode.Weights,
      `${path} looks like a MoCo v3 ${kind === 'linear' ? 'linear-probe' : 'pretraining'} checkpoint (${found}*) but also holds tensors outside it: ${shown}`,
    );
  }
  return { kind, prefix: found, entries: mapped, ignored, sincosPosEmbed: !names.has(`${found}pos_embed`) };
}
