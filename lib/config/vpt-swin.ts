/**
 * VPT's Swin backbones in its yacs configs: `MODEL.TYPE: swin` with a `DATA.FEATURE` from
 * KMnP/vpt's build_vit_backbone.py MODEL_ZOO, read as the timm name (and pretrained tag) of the
 * same weights, which vpt-native builds (lib/weights/swin-archs.ts). The self-supervised MoBY
 * Swin-T (`swint_imagenet_ssl`) is not one of them.
 */

/** DATA.FEATURE -> timm name with tag (Microsoft's in1k / in22k releases, as timm tags them). */
const FEATURES: Record<string, string> = {
  swint_imagenet: 'swin_tiny_patch4_window7_224.ms_in1k',
  swins_imagenet: 'swin_small_patch4_window7_224.ms_in1k',
  swinb_imagenet_224: 'swin_base_patch4_window7_224.ms_in1k',
  swinb_imagenet_384: 'swin_base_patch4_window12_384.ms_in1k',
  swinb_imagenet22k_224: 'swin_base_patch4_window7_224.ms_in22k',
  swinb_imagenet22k_384: 'swin_base_patch4_window12_384.ms_in22k',
  swinl_imagenet22k_224: 'swin_large_patch4_window7_224.ms_in22k',
};

/**
 * The `arch` a VPT config's MODEL.TYPE and DATA.FEATURE ask for, or undefined when they do not
 * name a Swin vpt-native runs.
 * @example
 * ```ts
 * vptSwinArch('swin', 'swinb_imagenet22k_224'); // 'swin_base_patch4_window7_224.ms_in22k'
 * ```
 */
export function vptSwinArch(modelType: unknown, feature: unknown): string | undefined {
  if (modelType !== 'swin' || typeof feature !== 'string') return undefined;
  return Object.hasOwn(FEATURES, feature) ? FEATURES[feature] : undefined;
}
