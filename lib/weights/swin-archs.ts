/**
 * timm's Swin Transformer (V1) registrations and the resolution of a Swin backbone's
 * architecture from an `arch` name and/or timm's `config.json` (its `model_args` override the
 * registration). The table rows are timm 1.0.29's `swin_*_patch4_*` builder arguments; every
 * registered tag uses ImageNet's mean / std.
 */
import { ErrorCode, VptError } from '../errors.js';
import type { TimmConfig } from './architecture.js';

/** Everything the native Swin needs, in timm's terms. */
export interface SwinArchitecture {
  /** timm model name without the tag, e.g. `swin_base_patch4_window7_224`. */
  arch: string;
  tag?: string;
  imgSize: number;
  patchSize: number;
  inChans: number;
  embedDim: number;
  depths: number[];
  numHeads: number[];
  windowSize: number;
  mlpRatio: number;
  mean: [number, number, number];
  std: [number, number, number];
}

const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

type SwinArgs = Pick<SwinArchitecture, 'imgSize' | 'patchSize' | 'embedDim' | 'depths' | 'numHeads' | 'windowSize'>;

/** timm 1.0.29's Swin V1 registrations (swin_transformer.py) and their default tags. */
export const SWIN_ARCHS: Record<string, SwinArgs & { tags: string[] }> = {
  swin_tiny_patch4_window7_224: {
    imgSize: 224,
    patchSize: 4,
    windowSize: 7,
    embedDim: 96,
    depths: [2, 2, 6, 2],
    numHeads: [3, 6, 12, 24],
    tags: ['ms_in1k', 'ms_in22k_ft_in1k', 'ms_in22k'],
  },
  swin_small_patch4_window7_224: {
    imgSize: 224,
    patchSize: 4,
    windowSize: 7,
    embedDim: 96,
    depths: [2, 2, 18, 2],
    numHeads: [3, 6, 12, 24],
    tags: ['ms_in22k_ft_in1k', 'ms_in1k', 'ms_in22k'],
  },
  swin_base_patch4_window7_224: {
    imgSize: 224,
    patchSize: 4,
    windowSize: 7,
    embedDim: 128,
    depths: [2, 2, 18, 2],
    numHeads: [4, 8, 16, 32],
    tags: ['ms_in22k_ft_in1k', 'ms_in1k', 'ms_in22k'],
  },
  swin_base_patch4_window12_384: {
    imgSize: 384,
    patchSize: 4,
    windowSize: 12,
    embedDim: 128,
    depths: [2, 2, 18, 2],
    numHeads: [4, 8, 16, 32],
    tags: ['ms_in22k_ft_in1k', 'ms_in1k', 'ms_in22k'],
  },
  swin_large_patch4_window7_224: {
    imgSize: 224,
    patchSize: 4,
    windowSize: 7,
    embedDim: 192,
    depths: [2, 2, 18, 2],
    numHeads: [6, 12, 24, 48],
    tags: ['ms_in22k_ft_in1k', 'ms_in22k'],
  },
  swin_large_patch4_window12_384: {
    imgSize: 384,
    patchSize: 4,
    windowSize: 12,
    embedDim: 192,
    depths: [2, 2, 18, 2],
    numHeads: [6, 12, 24, 48],
    tags: ['ms_in22k_ft_in1k', 'ms_in22k'],
  },
};

/** timm's deprecated names for the in22k tags. */
const SWIN_ALIASES: Record<string, string> = {
  swin_base_patch4_window7_224_in22k: 'swin_base_patch4_window7_224.ms_in22k',
  swin_base_patch4_window12_384_in22k: 'swin_base_patch4_window12_384.ms_in22k',
  swin_large_patch4_window7_224_in22k: 'swin_large_patch4_window7_224.ms_in22k',
  swin_large_patch4_window12_384_in22k: 'swin_large_patch4_window12_384.ms_in22k',
};

/** True when `name` (with or without a tag) is a Swin Transformer, supported or not. */
export function isSwinArch(name: string | undefined): boolean {
  return typeof name === 'string' && name.split('.')[0]!.startsWith('swin');
}

/** model_args keys the native Swin honours; any other key is refused by name. */
const SUPPORTED_ARGS = [
  'img_size',
  'patch_size',
  'in_chans',
  'embed_dim',
  'depths',
  'num_heads',
  'window_size',
  'mlp_ratio',
];
/** Keys timm writes that change nothing the forward computes here (at these values). */
const NEUTRAL_ARGS: Record<string, unknown> = {
  num_classes: undefined,
  global_pool: 'avg',
  drop_rate: undefined,
  proj_drop_rate: undefined,
  attn_drop_rate: undefined,
  drop_path_rate: undefined,
  qkv_bias: true,
  always_partition: false,
  strict_img_size: true,
  head_dim: null,
};

function positiveInt(value: unknown, key: string, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new VptError(ErrorCode.Arch, `${where}: ${key} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

function intList(value: unknown, key: string, where: string): number[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new VptError(ErrorCode.Arch, `${where}: ${key} must be a list of positive integers`);
  return value.map((v) => positiveInt(v, key, where));
}

function triple(v: unknown): [number, number, number] | undefined {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')
    ? (v as [number, number, number])
    : undefined;
}

/**
 * The Swin architecture named by `arch` or config.json's `architecture`, with config.json's
 * model_args applied. Throws VPT_ARCH naming an unknown Swin name (and the supported ones), a
 * Swin V2 / S3 / other variant, or a model_args key this Swin does not honour.
 */
export function resolveSwinArchitecture(opts: {
  arch?: string;
  config?: TimmConfig;
  configPath?: string;
}): SwinArchitecture {
  const where = opts.configPath ?? 'config.json';
  const configArch = typeof opts.config?.architecture === 'string' ? opts.config.architecture : undefined;
  const full = SWIN_ALIASES[opts.arch ?? ''] ?? opts.arch ?? configArch;
  if (!full) throw new VptError(ErrorCode.Arch, 'the Swin architecture is unknown: pass "arch" or a config.json');
  const [name, tagFromName] = full.split('.') as [string, string | undefined];
  if (opts.arch && configArch && name !== configArch.split('.')[0]) {
    throw new VptError(ErrorCode.Arch, `arch "${opts.arch}" contradicts ${where}, which says "${configArch}"`);
  }
  const row = SWIN_ARCHS[name];
  if (!row) {
    throw new VptError(
      ErrorCode.Arch,
      `Swin architecture "${name}" is not supported (Swin V2, S3 and the other variants are not); supported: ${Object.keys(SWIN_ARCHS).join(', ')}`,
    );
  }
  const a: SwinArchitecture = {
    arch: name,
    imgSize: row.imgSize,
    patchSize: row.patchSize,
    inChans: 3,
    embedDim: row.embedDim,
    depths: [...row.depths],
    numHeads: [...row.numHeads],
    windowSize: row.windowSize,
    mlpRatio: 4,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
  };
  const tag = tagFromName;
  if (tag && !row.tags.includes(tag)) {
    throw new VptError(
      ErrorCode.Arch,
      `"${full}": timm registers no tag "${tag}" for ${name} (${row.tags.join(', ')})`,
    );
  }
  if (tag) a.tag = tag;
  const cfg = opts.config;
  if (!cfg) return a;
  const args = cfg.model_args ?? {};
  if (typeof args !== 'object' || Array.isArray(args))
    throw new VptError(ErrorCode.Arch, `${where}: model_args must be an object`);
  for (const [key, value] of Object.entries(args as Record<string, unknown>)) {
    if (key in NEUTRAL_ARGS) {
      const fixed = NEUTRAL_ARGS[key];
      if (fixed !== undefined && value !== fixed)
        throw new VptError(
          ErrorCode.Arch,
          `${where}: model_args.${key} = ${JSON.stringify(value)} is not supported by vpt-native's Swin (only ${JSON.stringify(fixed)})`,
        );
      continue;
    }
    if (!SUPPORTED_ARGS.includes(key)) {
      throw new VptError(
        ErrorCode.Arch,
        `${where}: model_args.${key} is not supported by vpt-native's Swin (supported: ${SUPPORTED_ARGS.join(', ')})`,
      );
    }
    if (key === 'img_size') a.imgSize = positiveInt(value, key, where);
    if (key === 'patch_size') a.patchSize = positiveInt(value, key, where);
    if (key === 'in_chans') a.inChans = positiveInt(value, key, where);
    if (key === 'embed_dim') a.embedDim = positiveInt(value, key, where);
    if (key === 'window_size') a.windowSize = positiveInt(value, key, where);
    if (key === 'depths') a.depths = intList(value, key, where);
    if (key === 'num_heads') a.numHeads = intList(value, key, where);
    if (key === 'mlp_ratio') {
      if (typeof value !== 'number' || !(value > 0))
        throw new VptError(ErrorCode.Arch, `${where}: mlp_ratio must be a positive number`);
      a.mlpRatio = value;
    }
  }
  if (a.depths.length !== a.numHeads.length)
    throw new VptError(ErrorCode.Arch, `${where}: depths and num_heads need one entry per stage`);
  const pre = cfg.pretrained_cfg ?? {};
  if (typeof pre.tag === 'string' && !a.tag) a.tag = pre.tag;
  a.mean = triple(pre.mean) ?? a.mean;
  a.std = triple(pre.std) ?? a.std;
  return a;
}
