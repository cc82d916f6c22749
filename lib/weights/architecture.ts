/**
 * ViT architectures as timm names them, and the resolution of a backbone's architecture from
 * an `arch` name and/or timm's Hugging Face `config.json`, checked against the tensor shapes.
 */
import { ErrorCode, VptError } from '../errors.js';
import type { SafetensorsEntry } from './safetensors.js';

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
    throw new VptError(ErrorCode.Arch, `${where}: model_args.${key} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return v as number;
};
const bool = (v: unknown, key: string, where: string): boolean => {
  if (typeof v !== 'boolean') throw new VptError(ErrorCode.Arch, `${where}: model_args.${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
};

/** timm `model_args` keys and how each one changes the architecture. */
const MODEL_ARGS: Record<string, ModelArgHandler> = {
  embed_dim: (a, v, k, w) => { a.embedDim = int(v, k, w); },
  depth: (a, v, k, w) => { a.depth = int(v, k, w); },
  num_heads: (a, v, k, w) => { a.numHeads = int(v, k, w); },
  patch_size: (a, v, k, w) => { a.patchSize = int(v, k, w); },
  img_size: (a, v, k, w) => { a.imgSize = int(v, k, w); },
  in_chans: (a, v, k, w) => { a.inChans = int(v, k, w); },
  mlp_ratio: (a, v, k, w) => {
    if (typeof v !== 'number' || !(v > 0)) throw new VptError(ErrorCode.Arch, `${w}: model_args.${k} must be a positive number`);
    a.mlpRatio = v;
  },
  qkv_bias: (a, v, k, w) => { a.qkvBias = bool(v, k, w); },
  class_token: (a, v, k, w) => { a.classToken = bool(v, k, w); },
  reg_tokens: (a, v, k, w) => { a.regTokens = int(v, k, w, 0); },
  no_embed_class: (a, v, k, w) => { a.noEmbedClass = bool(v, k, w); },
  init_values: (a, v) => { a.layerScale = v !== null && v !== undefined && v !== 0; },
  fc_norm: (a, v, k, w) => { if (v !== null) a.fcNorm = bool(v, k, w); },
  global_pool: (a, v, k, w) => {
    if (v !== 'token' && v !== 'avg') throw new VptError(ErrorCode.Arch, `${w}: model_args.${k} "${String(v)}" is not supported (token, avg)`);
    a.globalPool = v;
  },
  // The classifier is replaced by the task head, so its size is irrelevant.
  num_classes: () => undefined,
};

function triple(v: unknown): [number, number, number] | undefined {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number') ? (v as [number, number, number]) : undefined;
}

/**
 * Resolves the architecture from an `arch` name and/or a timm `config.json`. When both are
 * given, they must name the same model.
 */
export function resolveArchitecture(opts: { arch?: string; config?: TimmConfig; configPath?: string }): VitArchitecture {
  const where = opts.configPath ?? 'config.json';
  const configArch = opts.config?.architecture;
  if (opts.config && configArch !== undefined && typeof configArch !== 'string') {
    throw new VptError(ErrorCode.Arch, `${where}: "architecture" must be a string`);
  }
  const name = opts.arch ?? (configArch as string | undefined);
  if (!name) {
    throw new VptError(ErrorCode.Arch, 'the architecture is unknown: put timm\'s config.json beside the weights or pass the "arch" option');
  }
  if (opts.arch && configArch && opts.arch.split('.')[0] !== (configArch as string).split('.')[0]) {
    throw new VptError(ErrorCode.Arch, `arch "${opts.arch}" contradicts ${where}, which says "${String(configArch)}"`);
  }
  const a = parseArch(name);
  const cfg = opts.config;
  if (!cfg) return a;
  if (cfg.global_pool !== undefined) MODEL_ARGS.global_pool!(a, cfg.global_pool, 'global_pool', where);
  const args = cfg.model_args ?? {};
  if (typeof args !== 'object' || Array.isArray(args)) throw new VptError(ErrorCode.Arch, `${where}: model_args must be an object`);
  if (!('fc_norm' in args) && a.globalPool === 'avg') a.fcNorm = true; // timm: fc_norm defaults to (global_pool == 'avg')
  for (const [key, value] of Object.entries(args)) {
    const handler = MODEL_ARGS[key];
    if (!handler) {
      throw new VptError(ErrorCode.Arch, `${where}: model_args.${key} is not supported by vpt-native (supported: ${Object.keys(MODEL_ARGS).join(', ')})`);
    }
    handler(a, value, key, where);
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

/**
 * Reads depth, width, patch size and the position-embedding grid off the tensor shapes and
 * checks them against the architecture, so a wrong `arch` fails with a clear message instead
 * of a list of mis-shaped tensors.
 */
export function checkArchitectureAgainstWeights(a: VitArchitecture, entries: SafetensorsEntry[], weightsPath: string): void {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const patch = byName.get('patch_embed.proj.weight');
  const found: Record<string, number> = {};
  if (patch && patch.shape.length === 4) {
    found.embed_dim = patch.shape[0]!;
    found.in_chans = patch.shape[1]!;
    found.patch_size = patch.shape[2]!;
  }
  const blocks = new Set<number>();
  for (const e of entries) {
    const m = /^blocks\.(\d+)\./.exec(e.name);
    if (m) blocks.add(Number(m[1]));
  }
  if (blocks.size > 0) found.depth = Math.max(...blocks) + 1;
  const pos = byName.get('pos_embed');
  const prefix = a.noEmbedClass ? 0 : (a.classToken ? 1 : 0) + a.regTokens;
  if (pos && pos.shape.length === 3) {
    const grid = Math.sqrt(pos.shape[1]! - prefix);
    if (Number.isInteger(grid)) found.img_size = grid * (found.patch_size ?? a.patchSize);
  }
  const expected: Record<string, number> = {
    embed_dim: a.embedDim, in_chans: a.inChans, patch_size: a.patchSize, depth: a.depth, img_size: a.imgSize,
  };
  const wrong = Object.keys(found).filter((k) => found[k] !== expected[k]);
  if (wrong.length === 0) return;
  const list = (r: Record<string, number>) => wrong.map((k) => `${k}=${r[k]}`).join(', ');
  throw new VptError(
    ErrorCode.Arch,
    `${weightsPath} does not hold a ${a.arch}: the weights have ${list(found)} but the architecture has ${list(expected)}`,
  );
}
