/**
 * The input normalisation a model applies to its images (mean / std per RGB channel).
 * VPT normalises with ImageNet's mean / std (its transforms), while timm's config for the
 * in21k ViT weights says 0.5 / 0.5: `normalize` picks one, or explicit values.
 */
import { ErrorCode, VptError } from '../errors.js';

/** ImageNet's mean / std, what KMnP/vpt's transforms normalise with. */
export const VPT_NORMALIZATION = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;

export type Triple = [number, number, number];
/** 'timm': the weights' config.json (pretrained_cfg); 'vpt': ImageNet's; or explicit values. */
export type Normalize = 'timm' | 'vpt' | { mean: Triple; std: Triple };

/**
 * Parses `--normalize`: `timm`, `vpt`, or six comma-separated numbers (mean r,g,b then std r,g,b).
 * Throws VPT_OPTION naming the flag otherwise.
 */
export function parseNormalize(text: string): Normalize {
  if (text === 'timm' || text === 'vpt') return text;
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.length !== 6 || values.some((v) => !Number.isFinite(v)) || values.slice(3).some((s) => s <= 0)) {
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "normalize": expected timm, vpt or six numbers "mean_r,mean_g,mean_b,std_r,std_g,std_b" (std > 0), got "${text}"`,
    );
  }
  return { mean: values.slice(0, 3) as Triple, std: values.slice(3) as Triple };
}

/** The mean / std a model normalises with: `normalize` applied over the weights' own. */
export function resolveNormalization(
  normalize: Normalize,
  weights: { mean: Triple; std: Triple },
): {
  mean: Triple;
  std: Triple;
} {
  if (normalize === 'timm') return { mean: [...weights.mean], std: [...weights.std] };
  if (normalize === 'vpt') return { mean: [...VPT_NORMALIZATION.mean], std: [...VPT_NORMALIZATION.std] };
  return { mean: [...normalize.mean], std: [...normalize.std] };
}
