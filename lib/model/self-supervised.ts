/**
 * VPT's self-supervised backbones (`MODEL.TYPE: ssl-vit`; KMnP/vpt src/models/vit_backbones and
 * vit_prompt `vit_mae.py` / `vit_moco.py`): what `createModel`'s `selfSupervised` changes.
 */
import { ErrorCode, VptError } from '../errors.js';
import type { VitArchitecture } from '../weights/architecture.js';
import { MOCO_V3_MEAN, MOCO_V3_STD } from '../weights/moco-v3-layout.js';
import type { PromptOptions } from './options.js';

/** `selfSupervised` values: MAE and MoCo v3, VPT's DATA.FEATURE `mae_vit*` and `mocov3_vitb`. */
export const SELF_SUPERVISED = ['mae', 'moco-v3'] as const;
export type SelfSupervised = (typeof SELF_SUPERVISED)[number];

/**
 * Whether the pooling reads the prompts too: VPT's MAE takes the mean of every token after the
 * class token, prepended prompts included, under pool 'original' ('imgprompt_pool' is the
 * same rows; 'img_pool' / 'prompt_pool' choose theirs).
 */
export function impliesPoolPrompts(ssl: SelfSupervised | undefined, prompt: PromptOptions | null): boolean {
  return (
    ssl === 'mae' &&
    prompt !== null &&
    (prompt.pool ?? 'original') === 'original' &&
    (prompt.location ?? 'prepend') === 'prepend'
  );
}

/**
 * The architecture a self-supervised backbone runs as, and the checkpoint gaps the native
 * loader fills in (native weights/ssl_checkpoint.h).
 * @param fromConfig whether a config.json gave the mean / std (else ImageNet's, which MAE and MoCo v3 trained with)
 */
export function selfSupervisedArchitecture(
  a: VitArchitecture,
  ssl: SelfSupervised | undefined,
  fromConfig: boolean,
): VitArchitecture & { freshFcNorm?: boolean; sincosPosEmbed?: boolean } {
  if (ssl === undefined) return a;
  if (!a.classToken) {
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "selfSupervised": ${ssl} backbones have a class token, ${a.arch} has none`,
    );
  }
  const mean = fromConfig ? {} : { mean: MOCO_V3_MEAN, std: MOCO_V3_STD };
  if (ssl === 'mae') return { ...a, ...mean, globalPool: 'avg', fcNorm: true, freshFcNorm: true };
  if (a.globalPool !== 'token') {
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "selfSupervised": moco-v3 reads the class token (as MoCo v3's linear probe and VPT do), but ${a.arch} pools '${a.globalPool}'`,
    );
  }
  return { ...a, ...mean, sincosPosEmbed: true };
}
