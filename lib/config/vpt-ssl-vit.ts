/**
 * VPT's self-supervised backbones in its yacs configs: `MODEL.TYPE: ssl-vit` with a
 * `DATA.FEATURE` naming MAE or MoCo v3 (KMnP/vpt src/models/vit_models.py SSLViT, which picks
 * MoCo when the name holds "moco" and MAE when it holds "mae", and build_vit_backbone.py).
 */
import type { SelfSupervised } from '../model/self-supervised.js';

/**
 * DATA.FEATURE values of ssl-vit: build_vit_backbone.py's MODEL_ZOO MAE names, and MoCo v3's
 * `mocov3_vitb` (the one name its build_mocov3_model accepts; `mocov3_vitb16`, which that
 * function refuses, is read as the same ViT-B/16).
 */
const FEATURES: Record<string, SelfSupervised> = {
  mae_vitb16: 'mae',
  mae_vitl16: 'mae',
  mae_vith14: 'mae',
  mocov3_vitb: 'moco-v3',
  mocov3_vitb16: 'moco-v3',
};

/**
 * The `selfSupervised` setting a VPT config's MODEL.TYPE and DATA.FEATURE ask for, or
 * undefined when they do not name an ssl-vit backbone vpt-native runs.
 * @example
 * ```ts
 * vptSelfSupervised('ssl-vit', 'mae_vitb16'); // 'mae'
 * ```
 */
export function vptSelfSupervised(modelType: unknown, feature: unknown): SelfSupervised | undefined {
  if (modelType !== 'ssl-vit' || typeof feature !== 'string') return undefined;
  return Object.hasOwn(FEATURES, feature) ? FEATURES[feature] : undefined;
}
