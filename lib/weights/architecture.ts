/**
 * ViT architectures as timm names them, and the resolution of a backbone's architecture from
 * an `arch` name and/or timm's Hugging Face `config.json`, checked against the tensor shapes.
 */
import type { NativeTensorEntry } from '../binding.js';
import { ErrorCode, VptError } from '../errors.js';

/** Everything the native ViT needs to know, in timm's terms. */
export interface VitArchitecture {
  /** timm model name without the tag, e.g. `vit_base_patch16_224`. */
  arch: string;
  /** Pretrained tag, e.g. `augreg_in21k`, when known. */
  tag?: string;
  imgSize: number;
  patchSize: number;
  inChans: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  qkvBias: boolean;
  classToken: boolean;
  regTokens: number;
  noEmbedClass: boolean;
  layerScale: boolean;
  globalPool: 'token' | 'avg';
  fcNorm: boolean;
  normEps: number;
  /** Per-channel normalisation the backbone was trained with. */
  mean: [number, number, number];
  std: [number, number, number];
}

const SIZES: Record<string, { embedDim: number; depth: number; numHeads: number }> = {
  tiny: { embedDim: 192, depth: 12, numHeads: 3 },
  small: { embedDim: 384, depth: 12, numHeads: 6 },
  base: { embedDim: 768, depth: 12, numHeads: 12 },
  large: { embedDim: 1024, depth: 24, numHeads: 16 },
  huge: { embedDim: 1280, depth: 32, numHeads: 16 },
};

/** timm's ViT default normalisation (IMAGENET_INCEPTION_MEAN / STD). */
const INCEPTION_MEAN: [number, number, number] = [0.5, 0.5, 0.5];
const INCEPTION_STD: [number, number, number] = [0.5, 0.5, 0.5];

const ARCH_PATTERN = /^vit_(tiny|small|base|large|huge)_patch(\d+)_(\d+)(?:\.([\w-]+))?$/;

/** The architecture names `arch` accepts, for error messages. */
export const SUPPORTED_ARCH_HINT =
  'vit_{tiny,small,base,large,huge}_patch{N}_{size} with an optional .tag, e.g. vit_base_patch16_224.augreg_in21k';

/** Parses a timm ViT name such as `vit_base_patch16_224.augreg_in21k`. */
export function parseArch(name: string): VitArchitecture {
  const m = ARCH_PATTERN.exec(name);
  if (!m) throw new VptError(ErrorCode.Arch, `unknown architecture "${name}" (supported: ${SUPPORTED_ARCH_HINT})`);
  const [, size, patch, img, tag] = m;
  return {
    arch: name.split('.')[0]!,
    ...(tag ? { tag } : {}),
    imgSize: Number(img),
    patchSize: Number(patch),
    inChans: 3,
    ...SIZES[size!]!,
    mlpRatio: 4,
    qkvBias: true,
    classToken: true,
    regTokens: 0,
    noEmbedClass: false,
    layerScale: false,
    globalPool: 'token',
    fcNorm: false,
    normEps: 1e-6,
    mean: INCEPTION_MEAN,
    std: INCEPTION_STD,
  };
}

/** The parts of timm's `config.json` vpt-native reads. */
export interface TimmConfig {
  architecture?: unknown;
  global_pool?: unknown;
  model_args?: Record<string, unknown>;
  pretrained_cfg?: { tag?: unknown; mean?: unknown; std?: unknown; input_size?: unknown };
}

type ModelArgHandler = (a: VitArchitecture, value: unknown, key: string, where: string) => void;

const int = (v: unknown, key: string, where: string, min = 1): number => {
  if (!Number.isSafeInteger(v) || (v as number) < min) {
    throw new VptError(ErrorCode.Arch, `${where}: ${key} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return v as number;
};
/** An integer, or timm's (n, n) pair of one (img_size / patch_size may be tuples). */
const square = (v: unknown, key: string, where: string): number => {
  if (Array.isArray(v) && v.length === 2) {
    if (v[0] !== v[1])
      throw new VptError(
        ErrorCode.Arch,
        `${where}: ${key} ${JSON.stringify(v)} is not square; vpt-native handles square images and patches only`,
      );
    return int(v[0], key, where);
  }
  return int(v, key, where);
};
const bool = (v: unknown, key: string, where: string): boolean => {
  if (typeof v !== 'boolean')
    throw new VptError(ErrorCode.Arch, `${where}: ${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
};
/** An argument accepted only at timm's default, which leaves the model as vpt-native computes it. */
const only =
  (value: unknown, why: string): ModelArgHandler =>
  (_a, v, k, w) => {
    if (v !== value)
      throw new VptError(
        ErrorCode.Arch,
        `${w}: ${k}=${JSON.stringify(v)} is not supported by vpt-native (only ${JSON.stringify(value)}: ${why})`,
      );
  };
const INFERENCE_ONLY = 'vpt-native does not apply training-time dropout to the backbone';

/** timm `model_args` keys and how each one changes the architecture. */
const MODEL_ARGS: Record<string, ModelArgHandler> = {
  embed_dim: (a, v, k, w) => {
    a.embedDim = int(v, k, w);
  },
  depth: (a, v, k, w) => {
    a.depth = int(v, k, w);
  },
  num_heads: (a, v, k, w) => {
    a.numHeads = int(v, k, w);
  },
  patch_size: (a, v, k, w) => {
    a.patchSize = square(v, k, w);
  },
  img_size: (a, v, k, w) => {
    a.imgSize = square(v, k, w);
  },
  in_chans: (a, v, k, w) => {
    a.inChans = int(v, k, w);
  },
  mlp_ratio: (a, v, k, w) => {
    if (typeof v !== 'number' || !(v > 0)) throw new VptError(ErrorCode.Arch, `${w}: ${k} must be a positive number`);
    a.mlpRatio = v;
  },
  qkv_bias: (a, v, k, w) => {
    a.qkvBias = bool(v, k, w);
  },
  class_token: (a, v, k, w) => {
    a.classToken = bool(v, k, w);
  },
  reg_tokens: (a, v, k, w) => {
    a.regTokens = int(v, k, w, 0);
  },
  no_embed_class: (a, v, k, w) => {
    a.noEmbedClass = bool(v, k, w);
  },
  // timm: LayerScale when init_values is truthy; the checkpoint's ls*.gamma replace the init value.
  init_values: (a, v, k, w) => {
    if (v !== null && typeof v !== 'number')
      throw new VptError(ErrorCode.Arch, `${w}: ${k} must be a number or null, got ${JSON.stringify(v)}`);
    a.layerScale = v !== null && v !== 0;
  },
  fc_norm: (a, v, k, w) => {
    if (v !== null) a.fcNorm = bool(v, k, w);
  },
  global_pool: (a, v, k, w) => {
    if (v !== 'token' && v !== 'avg')
      throw new VptError(ErrorCode.Arch, `${w}: ${k} "${String(v)}" is not supported (token, avg)`);
    a.globalPool = v;
  },
  // The classifier is replaced by the task head, so its size and dropout are irrelevant; the
  // initialisation schemes are overwritten by the checkpoint.
  num_classes: () => undefined,
  drop_rate: () => undefined,
  weight_init: () => undefined,
  fix_init: () => undefined,
  qk_norm: only(false, 'no q/k LayerNorm in the attention'),
  scale_attn_norm: only(false, 'no extra attention norm'),
  scale_mlp_norm: only(false, 'no extra MLP norm'),
  proj_bias: only(true, 'the attention projection has a bias'),
  pos_embed: only('learn', 'a learned absolute position embedding'),
  pre_norm: only(false, 'no norm before the blocks'),
  final_norm: only(true, 'a final norm'),
  pool_include_prefix: only(false, 'average pooling skips the prefix tokens'),
  dynamic_img_size: only(false, 'a fixed image size; use the imageSize option'),
  dynamic_img_pad: only(false, 'images are a multiple of the patch size'),
  pos_drop_rate: only(0, INFERENCE_ONLY),
  patch_drop_rate: only(0, INFERENCE_ONLY),
  proj_drop_rate: only(0, INFERENCE_ONLY),
  attn_drop_rate: only(0, INFERENCE_ONLY),
  drop_path_rate: only(0, INFERENCE_ONLY),
};

function triple(v: unknown): [number, number, number] | undefined {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')
    ? (v as [number, number, number])
    : undefined;
}

/**
 * Resolves the architecture from an `arch` name and/or a timm `config.json`, else from the
 * name `inferred` from the weights file. When both `arch` and a config are given, they must
 * name the same model.
 */
export function resolveArchitecture(opts: {
  arch?: string;
  config?: TimmConfig;
  configPath?: string;
  inferred?: string;
}): VitArchitecture {
  const where = opts.configPath ?? 'config.json';
  const configArch = opts.config?.architecture;
  if (opts.config && configArch !== undefined && typeof configArch !== 'string') {
    throw new VptError(ErrorCode.Arch, `${where}: "architecture" must be a string`);
  }
  const name = opts.arch ?? (configArch as string | undefined) ?? opts.inferred;
  if (!name) {
    throw new VptError(
      ErrorCode.Arch,
      'the architecture is unknown: put timm\'s config.json beside the weights or pass the "arch" option',
    );
  }
  if (opts.arch && configArch && opts.arch.split('.')[0] !== (configArch as string).split('.')[0]) {
    throw new VptError(ErrorCode.Arch, `arch "${opts.arch}" contradicts ${where}, which says "${String(configArch)}"`);
  }
  const a = parseArch(name);
  const cfg = opts.config;
  if (!cfg) return a;
  if (cfg.global_pool !== undefined) MODEL_ARGS.global_pool!(a, cfg.global_pool, 'global_pool', where);
  const args = cfg.model_args ?? {};
  if (typeof args !== 'object' || Array.isArray(args))
    throw new VptError(ErrorCode.Arch, `${where}: model_args must be an object`);
  for (const [key, value] of Object.entries(args)) {
    const handler = MODEL_ARGS[key];
    if (!handler) {
      throw new VptError(
        ErrorCode.Arch,
        `${where}: model_args.${key} is not supported by vpt-native (supported: ${Object.keys(MODEL_ARGS).join(', ')})`,
      );
    }
    handler(a, value, `model_args.${key}`, where);
  }
  // timm: fc_norm=None means "norm after pooling when pooling averages".
  if (args.fc_norm === undefined || args.fc_norm === null) a.fcNorm = a.globalPool === 'avg';
  if (!a.classToken && a.globalPool === 'token') {
    throw new VptError(
      ErrorCode.Arch,
      `${where}: model_args.class_token=false needs global_pool "avg" (token pooling reads the class token)`,
    );
  }
  if (a.embedDim % a.numHeads !== 0) {
    throw new VptError(ErrorCode.Arch, `${where}: embed_dim ${a.embedDim} is not divisible by num_heads ${a.numHeads}`);
  }
  const pre = cfg.pretrained_cfg ?? {};
  if (typeof pre.tag === 'string' && !a.tag) a.tag = pre.tag;
  a.mean = triple(pre.mean) ?? a.mean;
  a.std = triple(pre.std) ?? a.std;
  return a;
}

/** What a checkpoint's tensor shapes say about its architecture (a field is absent when unknown). */
export interface CheckpointShape {
  embedDim?: number;
  inChans?: number;
  patchSize?: number;
  depth?: number;
  numHeads?: number;
  mlpHidden?: number;
  regTokens?: number;
  classToken?: boolean;
  /** Rows of the position embedding, prefix-token rows included. */
  posTokens?: number;
}

/** The architecture a timm-named checkpoint's shapes reveal. */
export function timmCheckpointShape(entries: NativeTensorEntry[]): CheckpointShape {
  const byName = new Map(entries.map((e) => [e.name, e.shape]));
  const shape: CheckpointShape = { classToken: byName.has('cls_token'), regTokens: byName.get('reg_token')?.[1] ?? 0 };
  const patch = byName.get('patch_embed.proj.weight'); // (D, C, p, p)
  if (patch?.length === 4) [shape.embedDim, shape.inChans, shape.patchSize] = patch;
  const blocks = entries.map((e) => /^blocks\.(\d+)\./.exec(e.name)).filter((m) => m !== null);
  if (blocks.length > 0) shape.depth = Math.max(...blocks.map((m) => Number(m[1]))) + 1;
  const fc1 = byName.get('blocks.0.mlp.fc1.weight'); // (M, D)
  if (fc1?.length === 2) shape.mlpHidden = fc1[0];
  const pos = byName.get('pos_embed'); // (1, T, D)
  if (pos?.length === 3) shape.posTokens = pos[1];
  return shape;
}

/**
 * Checks what the tensor shapes say (width, depth, patch size, heads, MLP width, prefix tokens,
 * position grid) against the architecture, so a wrong `arch` or config fails with one clear
 * message instead of a list of mis-shaped tensors. The grid may differ from the architecture's
 * image size: the position embedding is resampled.
 */
export function checkArchitectureAgainstWeights(a: VitArchitecture, shape: CheckpointShape, weightsPath: string): void {
  const expected: Record<string, number | boolean> = {
    embed_dim: a.embedDim,
    in_chans: a.inChans,
    patch_size: a.patchSize,
    depth: a.depth,
    num_heads: a.numHeads,
    mlp_hidden: Math.trunc(a.embedDim * a.mlpRatio),
    class_token: a.classToken,
    reg_tokens: a.regTokens,
  };
  const found: Record<string, number | boolean | undefined> = {
    embed_dim: shape.embedDim,
    in_chans: shape.inChans,
    patch_size: shape.patchSize,
    depth: shape.depth,
    num_heads: shape.numHeads,
    mlp_hidden: shape.mlpHidden,
    class_token: shape.classToken,
    reg_tokens: shape.regTokens,
  };
  const wrong = Object.keys(expected).filter((k) => found[k] !== undefined && found[k] !== expected[k]);
  if (wrong.length > 0) {
    const list = (r: Record<string, unknown>) => wrong.map((k) => `${k}=${String(r[k])}`).join(', ');
    throw new VptError(
      ErrorCode.Arch,
      `${weightsPath} does not hold a ${a.arch}: the weights have ${list(found)} but the architecture has ${list(expected)}`,
    );
  }
  if (shape.posTokens === undefined) return;
  const prefixRows = a.noEmbedClass ? 0 : (a.classToken ? 1 : 0) + a.regTokens;
  const grid = Math.sqrt(shape.posTokens - prefixRows);
  if (!Number.isInteger(grid) || grid < 1) {
    throw new VptError(
      ErrorCode.Arch,
      `${weightsPath}: the position embedding has ${shape.posTokens} rows, not ${prefixRows} prefix-token rows and a square grid ` +
        '(check class_token, reg_tokens and no_embed_class)',
    );
  }
}
