/**
 * ViT architectures as timm names them, and the resolution of a backbone's architecture from
 * an `arch` name and/or timm's Hugging Face `config.json`, checked against the tensor shapes.
 */
import type { NativeTensorEntry } from '../binding.js';
import { ErrorCode, VptError } from '../errors.js';
import { TIMM_ARCHS, type TimmArchEntry } from './timm-archs.js';

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
  /** timm's distilled DeiT: a `dist_token` after the class token; token pooling averages the two. */
  distToken: boolean;
  noEmbedClass: boolean;
  layerScale: boolean;
  /**
   * `map`: SigLIP's attention-pool head (timm AttentionPoolLatent, `attn_pool.*`, with the model's
   * heads, MLP ratio, activation and norm), over the tokens after the prefix, as timm pools.
   */
  globalPool: 'token' | 'avg' | 'map';
  fcNorm: boolean;
  normEps: number;
  /** MLP activation: timm's default GELU, CLIP's QuickGELU or tanh-approximated GELU. */
  act: 'gelu' | 'quick_gelu' | 'gelu_tanh';
  /** timm pre_norm: a LayerNorm (`norm_pre`) after the position embedding, before the blocks (CLIP). */
  preNorm: boolean;
  /**
   * timm's Eva class (EVA-02): its tensor names, a SwiGLU MLP (`swiglu`, with a LayerNorm of the
   * hidden units when `mlpNorm`) and a rotary position embedding of the patch tokens (`rope`,
   * positions scaled to a `ropeRefGrid` x `ropeRefGrid` grid when it is not 0).
   */
  eva?: boolean;
  swiglu?: boolean;
  mlpNorm?: boolean;
  rope?: boolean;
  ropeRefGrid?: number;
  ropeTemperature?: number;
  /** The timm family the name belongs to (DINOv2, CLIP, SigLIP, DeiT-III, ...), when known. */
  family?: string;
  /** Per-channel normalisation the backbone was trained with. */
  mean: [number, number, number];
  std: [number, number, number];
}

const SIZES: Record<string, { embed_dim: number; depth: number; num_heads: number }> = {
  tiny: { embed_dim: 192, depth: 12, num_heads: 3 },
  small: { embed_dim: 384, depth: 12, num_heads: 6 },
  base: { embed_dim: 768, depth: 12, num_heads: 12 },
  large: { embed_dim: 1024, depth: 24, num_heads: 16 },
  huge: { embed_dim: 1280, depth: 32, num_heads: 16 },
};

/** timm's ViT default normalisation (IMAGENET_INCEPTION_MEAN / STD). */
const INCEPTION_MEAN: [number, number, number] = [0.5, 0.5, 0.5];
const INCEPTION_STD: [number, number, number] = [0.5, 0.5, 0.5];

const ARCH_PATTERN = /^vit_(tiny|small|base|large|huge)_patch(\d+)_(\d+)$/;

/** The architecture names `arch` accepts, for error messages. */
export const SUPPORTED_ARCH_HINT =
  'a timm ViT name (`vpt-native info --archs` lists them) with an optional .tag, e.g. vit_base_patch16_224.augreg_in21k';

/** timm's VisionTransformer defaults: what a registration's arguments start from. */
function timmDefaults(arch: string, tag: string | undefined): VitArchitecture {
  return {
    arch,
    ...(tag ? { tag } : {}),
    imgSize: 224,
    patchSize: 16,
    inChans: 3,
    embedDim: 768,
    depth: 12,
    numHeads: 12,
    mlpRatio: 4,
    qkvBias: true,
    classToken: true,
    regTokens: 0,
    distToken: false,
    noEmbedClass: false,
    layerScale: false,
    globalPool: 'token',
    fcNorm: false,
    normEps: 1e-6,
    act: 'gelu',
    preNorm: false,
    mean: INCEPTION_MEAN,
    std: INCEPTION_STD,
  };
}

/** What a registration's arguments start from: timm's VisionTransformer or Eva defaults. */
function startFor(arch: string, tag: string | undefined, e: TimmArchEntry): VitArchitecture {
  const a = timmDefaults(arch, tag);
  if (e.model !== 'eva') return a;
  // timm Eva: global_pool='avg'; use_fc_norm=None means "with avg"; no rope unless asked.
  return { ...a, eva: true, globalPool: 'avg', rope: false, ropeRefGrid: 0, ropeTemperature: 10000 };
}

/** Why a registered timm name cannot be built by vpt-native, or undefined when it can. */
function unsupportedReason(name: string, e: TimmArchEntry): string | undefined {
  if (e.unsupported) return `${name} uses ${e.unsupported}, which vpt-native does not implement`;
  try {
    applyModelArgs(startFor(name, undefined, e), e.args, `timm's registration of ${name}`);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  return undefined;
}

let supportedCache: string[] | undefined;
/** The registered timm names vpt-native builds, sorted. */
export function supportedArchNames(): string[] {
  supportedCache ??= Object.keys(TIMM_ARCHS)
    .filter((n) => unsupportedReason(n, TIMM_ARCHS[n]!) === undefined)
    .sort();
  return supportedCache;
}

/** Every registered timm ViT name in the table, with its family and why it is not supported (if so). */
export function listArchitectures(): Array<{ name: string; family: string; supported: boolean; reason?: string }> {
  return Object.keys(TIMM_ARCHS)
    .sort()
    .map((name) => {
      const e = TIMM_ARCHS[name]!;
      const reason = unsupportedReason(name, e);
      return { name, family: e.family, supported: reason === undefined, ...(reason ? { reason } : {}) };
    });
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The supported name closest to `name` (edit distance). */
export function nearestArch(name: string): string {
  let best = '';
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of supportedArchNames()) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/**
 * The architecture a timm name stands for: a registered name (timm-archs.ts) with the arguments
 * of its registration and its pretrained config's mean / std (the tag's, when the name has
 * one), or a `vit_{tiny..huge}_patch{N}_{size}` name timm does not register; `modelArgs`
 * (config.json's model_args) override the registration's arguments.
 */
export function parseArch(
  name: string,
  modelArgs: Record<string, unknown> = {},
  where = 'config.json',
): VitArchitecture {
  const [arch, tag] = name.split('.', 2) as [string, string | undefined];
  const entry = TIMM_ARCHS[arch];
  if (entry) {
    const reason = unsupportedReason(arch, entry);
    if (reason)
      throw new VptError(
        ErrorCode.Arch,
        `architecture "${name}" is not supported: ${reason} (nearest supported: ${nearestArch(arch)})`,
      );
    const a = startFor(arch, tag, entry);
    a.family = entry.family;
    a.distToken = entry.model === 'deit_distilled';
    if (entry.normEps !== undefined) a.normEps = entry.normEps;
    const tagged = tag ? entry.tags?.[tag] : undefined;
    a.mean = tagged?.mean ?? entry.mean ?? a.mean;
    a.std = tagged?.std ?? entry.std ?? a.std;
    const args = { ...entry.args, ...(tagged?.img_size ? { img_size: tagged.img_size } : {}) };
    applyModelArgs(a, args, `timm's registration of ${arch}`, modelArgs, where);
    return a;
  }
  const m = ARCH_PATTERN.exec(arch);
  if (!m)
    throw new VptError(
      ErrorCode.Arch,
      `unknown architecture "${name}": not a timm ViT vpt-native knows (nearest supported: ${nearestArch(arch)}; \`vpt-native info --archs\` lists them)`,
    );
  const [, size, patch, img] = m;
  const a = timmDefaults(arch, tag);
  a.family = 'ViT';
  applyModelArgs(a, { patch_size: Number(patch), img_size: Number(img), ...SIZES[size!]! }, arch, modelArgs, where);
  return a;
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
    if (v !== 'token' && v !== 'avg' && v !== 'map')
      throw new VptError(ErrorCode.Arch, `${w}: ${k} "${String(v)}" is not supported (token, avg, map)`);
    a.globalPool = v;
  },
  act_layer: (a, v, k, w) => {
    if (v === null || v === 'gelu') a.act = 'gelu';
    else if (v === 'quick_gelu' || v === 'gelu_tanh') a.act = v;
    else throw new VptError(ErrorCode.Arch, `${w}: ${k} "${String(v)}" is not supported (gelu, quick_gelu, gelu_tanh)`);
  },
  pre_norm: (a, v, k, w) => {
    a.preNorm = bool(v, k, w);
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

/** timm Eva `model_args`: the VisionTransformer ones they share, and EVA-02's own. */
const EVA_ARGS: Record<string, ModelArgHandler> = {
  ...Object.fromEntries(
    [
      'embed_dim',
      'depth',
      'num_heads',
      'patch_size',
      'img_size',
      'in_chans',
      'mlp_ratio',
      'qkv_bias',
      'class_token',
      'no_embed_class',
      'init_values',
      'num_classes',
      'drop_rate',
      'pos_drop_rate',
      'patch_drop_rate',
      'proj_drop_rate',
      'attn_drop_rate',
      'drop_path_rate',
      'dynamic_img_size',
      'dynamic_img_pad',
    ].map((k) => [k, MODEL_ARGS[k]!]),
  ),
  global_pool: (a, v, k, w) => {
    if (v !== 'token' && v !== 'avg')
      throw new VptError(ErrorCode.Arch, `${w}: ${k} "${String(v)}" is not supported for an Eva model (token, avg)`);
    a.globalPool = v;
  },
  // Fused or separate q / k / v: the checkpoint says which (weights/eva_layout.h reads both).
  qkv_fused: (_a, v, k, w) => {
    bool(v, k, w);
  },
  swiglu_mlp: (a, v, k, w) => {
    a.swiglu = bool(v, k, w);
  },
  // With a SwiGLU MLP: timm's SwiGLU (fc1_g / fc1_x, mlp.norm); without, its packed GluMlp.
  scale_mlp: (a, v, k, w) => {
    a.mlpNorm = bool(v, k, w);
  },
  use_rot_pos_emb: (a, v, k, w) => {
    a.rope = bool(v, k, w);
  },
  ref_feat_shape: (a, v, k, w) => {
    if (v !== null) a.ropeRefGrid = square(v, k, w);
  },
  rope_temperature: (a, v, k, w) => {
    if (typeof v !== 'number' || !(v > 0)) throw new VptError(ErrorCode.Arch, `${w}: ${k} must be a positive number`);
    a.ropeTemperature = v;
  },
  use_fc_norm: (a, v, k, w) => {
    if (v !== null) a.fcNorm = bool(v, k, w);
  },
  rope_type: only('cat', "timm's RotaryEmbeddingCat"),
  rope_grid_offset: only(0, 'rotary positions from 0'),
  rope_grid_indexing: only('ij', "rotary positions in 'ij' order"),
  rope_rotate_half: only(false, 'interleaved rotary pairs'),
  use_abs_pos_emb: only(true, 'a learned absolute position embedding as well'),
  num_reg_tokens: only(0, 'no register tokens in an Eva model'),
  scale_attn_inner: only(false, 'no norm inside the attention'),
  use_post_norm: only(false, 'pre-norm blocks'),
  use_pre_transformer_norm: only(false, 'no norm before the blocks'),
  use_post_transformer_norm: only(null, 'the final norm when fc_norm is off'),
  attn_type: only('eva', "timm's EvaAttention"),
  swiglu_align_to: only(0, 'the SwiGLU width is embed_dim * mlp_ratio'),
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
  const cfg = opts.config;
  const args = cfg?.model_args ?? {};
  if (typeof args !== 'object' || Array.isArray(args))
    throw new VptError(ErrorCode.Arch, `${where}: model_args must be an object`);
  const modelArgs: Record<string, unknown> = { ...args };
  // A top-level global_pool is timm's own record of the pooling the model was created with.
  if (cfg?.global_pool !== undefined) {
    MODEL_ARGS.global_pool!(timmDefaults(name, undefined), cfg.global_pool, 'global_pool', where);
    modelArgs.global_pool ??= cfg.global_pool;
  }
  const a = parseArch(name, modelArgs, where);
  if (!cfg) return a;
  const pre = cfg.pretrained_cfg ?? {};
  if (typeof pre.tag === 'string' && !a.tag) a.tag = pre.tag;
  a.mean = triple(pre.mean) ?? a.mean;
  a.std = triple(pre.std) ?? a.std;
  return a;
}

/**
 * Applies a registration's arguments `base` (named `baseWhere` in errors) and then `overrides`
 * (config.json's model_args, named `where`) to `a`, then timm's derived defaults, and checks
 * what timm would refuse.
 */
function applyModelArgs(
  a: VitArchitecture,
  base: Record<string, unknown>,
  baseWhere: string,
  overrides: Record<string, unknown> = {},
  where = 'config.json',
): void {
  const handlers = a.eva ? EVA_ARGS : MODEL_ARGS;
  const apply = (args: Record<string, unknown>, w: string, prefix: string) => {
    for (const [key, value] of Object.entries(args)) {
      const handler = handlers[key];
      if (!handler) {
        throw new VptError(
          ErrorCode.Arch,
          `${w}: ${prefix}${key} is not supported by vpt-native (supported: ${Object.keys(handlers).join(', ')})`,
        );
      }
      handler(a, value, `${prefix}${key}`, w);
    }
  };
  apply(base, baseWhere, '');
  apply(overrides, where, 'model_args.');
  const fcNormKey = a.eva ? 'use_fc_norm' : 'fc_norm';
  const fcNorm = overrides[fcNormKey] !== undefined ? overrides[fcNormKey] : base[fcNormKey];
  // timm: fc_norm=None means "norm after pooling when pooling averages".
  if (fcNorm === undefined || fcNorm === null) a.fcNorm = a.globalPool === 'avg';
  if (!a.classToken && a.globalPool === 'token') {
    throw new VptError(
      ErrorCode.Arch,
      `${where}: model_args.class_token=false needs global_pool "avg" or "map" (token pooling reads the class token)`,
    );
  }
  if (a.rope && (a.embedDim / a.numHeads) % 4 !== 0)
    throw new VptError(ErrorCode.Arch, `${where}: the rotary embedding needs a head width divisible by 4`);
  if (a.embedDim % a.numHeads !== 0) {
    throw new VptError(ErrorCode.Arch, `${where}: embed_dim ${a.embedDim} is not divisible by num_heads ${a.numHeads}`);
  }
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
  distToken?: boolean;
  /** Rows of the position embedding, prefix-token rows included. */
  posTokens?: number;
}

/** The architecture a timm-named checkpoint's shapes reveal. */
export function timmCheckpointShape(entries: NativeTensorEntry[]): CheckpointShape {
  const byName = new Map(entries.map((e) => [e.name, e.shape]));
  const shape: CheckpointShape = {
    classToken: byName.has('cls_token'),
    distToken: byName.has('dist_token'),
    regTokens: byName.get('reg_token')?.[1] ?? 0,
  };
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
    // A packed SwiGLU (Eva's GluMlp) holds the gate and value rows in one fc1.
    mlp_hidden: Math.trunc(a.embedDim * a.mlpRatio) * (a.swiglu ? 2 : 1),
    class_token: a.classToken,
    dist_token: a.distToken,
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
    dist_token: shape.distToken,
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
  const prefixRows = a.noEmbedClass ? 0 : (a.classToken ? 1 : 0) + (a.distToken ? 1 : 0) + a.regTokens;
  const grid = Math.sqrt(shape.posTokens - prefixRows);
  if (!Number.isInteger(grid) || grid < 1) {
    throw new VptError(
      ErrorCode.Arch,
      `${weightsPath}: the position embedding has ${shape.posTokens} rows, not ${prefixRows} prefix-token rows and a square grid ` +
        '(check class_token, reg_tokens and no_embed_class)',
    );
  }
}
