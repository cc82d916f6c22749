/**
 * Imports the original VPT repository's yacs YAML configs (e.g. `configs/prompt/cub.yaml`, with
 * `_BASE_` inheritance), so people moving from that code keep their configs. Keys vpt-native
 * cannot honor (unknown keys, and keys whose value differs from what vpt-native implements) are
 * returned by name, never silently dropped.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

import { parse as parseYaml } from 'yaml';

import { ErrorCode, VptError } from '../errors.js';
import {
  PROMPT_INITS,
  PROMPT_LOCATIONS,
  PROMPT_POOLS,
  type PromptInit,
  type PromptLocation,
  type PromptPool,
} from '../model/options.js';
import type { TrainConfig } from './train-config.js';
import { vptSelfSupervised } from './vpt-ssl-vit.js';
import { vptSwinArch } from './vpt-swin.js';

type Yacs = Record<string, unknown>;

const isFalse = (v: unknown) => v === false || v === 'False';
const isTrue = (v: unknown) => v === true || v === 'True';
const isNone = (v: unknown) => v === null || v === undefined || v === 'None';
const isEmpty = (v: unknown) => isNone(v) || v === '' || (Array.isArray(v) && v.length === 0);

const TRANSFER: Record<string, TrainConfig['transfer']> = {
  prompt: 'prompt',
  linear: 'linear',
  end2end: 'full',
  // VPT's Table 1 baselines (its partial-1 / -2 / -4; any partial-k here).
  'tinytl-bias': 'bias',
  adapter: 'adapter',
  side: 'sidetune',
};

/** MODEL.TRANSFER_TYPE -> transfer, or undefined for the types vpt-native does not have. */
function transferOf(v: unknown): TrainConfig['transfer'] | undefined {
  const s = String(v);
  return /^partial-[1-9]\d{0,3}$/.test(s) ? (s as `partial-${number}`) : TRANSFER[s];
}

/** yacs key -> how it maps onto TrainConfig. */
const MAPPING: Record<string, (v: unknown, out: Partial<TrainConfig>) => void> = {
  'MODEL.PROMPT.NUM_TOKENS': (v, o) => {
    o.promptTokens = v as number;
  },
  'MODEL.PROMPT.DEEP': (v, o) => {
    o.deep = v as boolean;
  },
  'MODEL.PROMPT.DROPOUT': (v, o) => {
    o.promptDropout = v as number;
  },
  'MODEL.PROMPT.PROJECT': (v, o) => {
    // biome-ignore lint/complexity/useMathMinMax: Math.max would keep a NaN (YAML .nan); this maps it to 0
    o.promptProject = (v as number) > 0 ? (v as number) : 0;
  },
  'MODEL.PROMPT.NUM_DEEP_LAYERS': (v, o) => {
    if (!isNone(v)) o.deepLayers = v as number;
  },
  'MODEL.PROMPT.REVERSE_DEEP': (v, o) => {
    o.reverseDeep = isTrue(v);
  },
  'MODEL.PROMPT.DEEP_SHARED': (v, o) => {
    o.deepShared = isTrue(v);
  },
  'MODEL.PROMPT.FORWARD_DEEP_NOEXPAND': (v, o) => {
    o.deepNoExpand = isTrue(v);
  },
  'MODEL.PROMPT.VIT_POOL_TYPE': (v, o) => {
    const pool = String(v);
    if (!(PROMPT_POOLS as readonly string[]).includes(pool))
      throw new VptError(
        ErrorCode.Option,
        `MODEL.PROMPT.VIT_POOL_TYPE "${pool}" is not supported (${PROMPT_POOLS.join(', ')})`,
      );
    o.promptPool = pool as PromptPool;
  },
  'MODEL.PROMPT.INITIATION': (v, o) => {
    const init = String(v);
    if (!(PROMPT_INITS as readonly string[]).includes(init))
      throw new VptError(
        ErrorCode.Option,
        `MODEL.PROMPT.INITIATION "${init}" is not supported (${PROMPT_INITS.join(', ')})`,
      );
    o.promptInit = init as PromptInit;
  },
  'MODEL.PROMPT.LOCATION': (v, o) => {
    // Every location KMnP/vpt defines; another value stays unset, and is listed as not honored.
    if ((PROMPT_LOCATIONS as readonly unknown[]).includes(v)) o.promptLocation = v as PromptLocation;
  },
  'MODEL.PROMPT.CLSEMB_PATH': (v, o) => {
    if (!isEmpty(v)) o.clsEmbeddings = String(v);
  },
  'MODEL.TRANSFER_TYPE': (v, o) => {
    const t = transferOf(v);
    if (!t)
      throw new VptError(
        ErrorCode.Option,
        `MODEL.TRANSFER_TYPE "${String(v)}" is not supported (prompt, linear, end2end, partial-k, tinytl-bias, adapter, side)`,
      );
    o.transfer = t;
  },
  'MODEL.MLP_NUM': (v, o) => {
    o.mlpLayers = v as number;
  },
  'MODEL.ADAPTER.REDUCATION_FACTOR': (v, o) => {
    o.adapterReduction = v as number;
  },
  'SOLVER.BASE_LR': (v, o) => {
    o.baseLr = v as number;
  },
  'SOLVER.WEIGHT_DECAY': (v, o) => {
    o.weightDecay = v as number;
  },
  'SOLVER.MOMENTUM': (v, o) => {
    o.momentum = v as number;
  },
  'SOLVER.OPTIMIZER': (v, o) => {
    o.optimizer = String(v).toLowerCase() as TrainConfig['optimizer'];
  },
  'SOLVER.TOTAL_EPOCH': (v, o) => {
    o.epochs = v as number;
  },
  'SOLVER.WARMUP_EPOCH': (v, o) => {
    o.warmupEpochs = v as number;
  },
  'DATA.BATCH_SIZE': (v, o) => {
    o.batchSize = v as number;
  },
  'DATA.CROPSIZE': (v, o) => {
    o.cropSize = v as number;
  },
  'DATA.CLASS_WEIGHTS_TYPE': (v, o) => {
    o.classWeights = v as TrainConfig['classWeights'];
  },
  'DATA.DATAPATH': (v, o) => {
    if (v) o.data = String(v);
  },
  OUTPUT_DIR: (v, o) => {
    if (v) o.out = String(v);
  },
  SEED: (v, o) => {
    if (v !== null && v !== undefined) o.seed = v as number;
  },
};

/** Mapped keys honored at some values only (the others are listed as not honored). */
const MAPPED_VALUES: Record<string, (v: unknown) => boolean> = {
  'MODEL.PROMPT.LOCATION': (v) => (PROMPT_LOCATIONS as readonly unknown[]).includes(v),
};

/** Keys that are bookkeeping of the original code: whatever their value, the result is the same here. */
const NEUTRAL = new Set([
  'NUM_GPUS',
  'NUM_SHARDS',
  'RUN_N_TIMES',
  'DBG',
  'CUDNN_BENCHMARK',
  'SOLVER.LOG_EVERY_N',
  'DATA.NUM_WORKERS',
  'DATA.PIN_MEMORY',
  'DATA.NAME',
  'DATA.NUMBER_CLASSES',
  'MODEL.SAVE_CKPT',
  'MODEL.MODEL_ROOT',
  /** Never read by the original code (its CLS inits read CLSEMB_PATH). */
  'MODEL.PROMPT.CLSEMB_FOLDER',
]);

/**
 * Keys that change the model or the recipe in the original code: neutral only at the value
 * vpt-native implements (VPT's default, `src/configs/config.py`); any other value is not honored.
 * `epochs` is the run's epoch count as imported so far (vpt-native's default when the file has none).
 */
const NEUTRAL_AT: Record<string, (v: unknown, epochs: number) => boolean> = {
  /** A supervised ViT; 'ssl-vit' is honored with an MAE / MoCo v3 DATA.FEATURE (vpt-ssl-vit.ts), 'swin' with a Swin one (vpt-swin.ts); 'resnet', 'convnext' are other models. */
  'MODEL.TYPE': (v) => v === 'vit',
  /** The backbone comes from --weights; a supervised ViT's name (sup_vitb16_224, ...) names the model vpt-native runs. */
  'DATA.FEATURE': (v) => isEmpty(v) || (typeof v === 'string' && v.startsWith('sup_vit')),
  'MODEL.LINEAR.MLP_SIZES': isEmpty,
  /** A checkpoint to start from; vpt-native resumes with --resume. */
  'MODEL.WEIGHT_PATH': isEmpty,
  'SOLVER.SCHEDULER': (v) => v === 'cosine',
  'SOLVER.LOSS': (v) => v === 'softmax',
  /** Biases (and 1-D tensors) get no weight decay here. */
  'SOLVER.WEIGHT_DECAY_BIAS': (v) => v === 0,
  'SOLVER.BIAS_MULTIPLIER': (v) => v === 1,
  /** Early stopping after this many epochs without a better val top-1: never, when it is >= the epochs. */
  'SOLVER.PATIENCE': (v, epochs) => typeof v === 'number' && v >= epochs,
  'DATA.MULTILABEL': isFalse,
  'DATA.PERCENTAGE': (v) => v === 1,
  /** The adapter style: Pfeiffer is the one KMnP/vpt implements (and vpt-native). */
  'MODEL.ADAPTER.STYLE': (v) => v === 'Pfeiffer',
};

/** vpt-native's default epochs, for SOLVER.PATIENCE when the file sets no SOLVER.TOTAL_EPOCH. */
const DEFAULT_EPOCHS = 100;

export interface VptYacsImport {
  config: Partial<TrainConfig>;
  /** Keys present in the file that vpt-native does not honor (at the value they hold). */
  unsupported: string[];
  /** DATA.NUMBER_CLASSES when set (> 0), to check against the dataset. */
  numberClasses?: number;
}

async function loadWithBase(path: string, seen: Set<string>): Promise<Yacs> {
  const full = resolve(path);
  if (seen.has(full)) throw new VptError(ErrorCode.Option, `${path}: _BASE_ cycle`);
  seen.add(full);
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(full, 'utf8'));
  } catch (error) {
    throw new VptError(ErrorCode.Option, `cannot read VPT config ${full}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new VptError(ErrorCode.Option, `VPT config ${full} is not a mapping`);
  const { _BASE_: base, ...rest } = doc as Yacs;
  const parent = typeof base === 'string' ? await loadWithBase(resolve(dirname(full), base), seen) : {};
  return merge(parent, rest);
}

function merge(a: Yacs, b: Yacs): Yacs {
  const out: Yacs = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      prev && v && typeof prev === 'object' && typeof v === 'object' && !Array.isArray(v)
        ? merge(prev as Yacs, v as Yacs)
        : v;
  }
  return out;
}

function flatten(node: Yacs, prefix = ''): Array<[string, unknown]> {
  return Object.entries(node).flatMap(([k, v]) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? flatten(v as Yacs, `${prefix}${k}.`)
      : [[`${prefix}${k}`, v] as [string, unknown]],
  );
}

/** Reads a VPT yacs YAML (following `_BASE_`) and maps it onto TrainConfig keys. */
export async function importVptConfig(path: string): Promise<VptYacsImport> {
  const flat = flatten(await loadWithBase(path, new Set()));
  const config: Partial<TrainConfig> = {};
  const unsupported: string[] = [];
  let numberClasses: number | undefined;
  for (const [key, value] of flat) {
    if (key === 'DATA.NUMBER_CLASSES' && typeof value === 'number' && value > 0) numberClasses = value;
    MAPPING[key]?.(value, config);
  }
  // MODEL.TYPE ssl-vit with an MAE / MoCo v3 DATA.FEATURE: both keys honored together.
  const values = new Map(flat);
  const ssl = vptSelfSupervised(values.get('MODEL.TYPE'), values.get('DATA.FEATURE'));
  if (ssl) config.selfSupervised = ssl;
  // MODEL.TYPE swin with a Swin DATA.FEATURE: the timm Swin of the same weights (--weights must hold it).
  const swin = vptSwinArch(values.get('MODEL.TYPE'), values.get('DATA.FEATURE'));
  if (swin) config.arch = swin;
  // After the mapping, so that value checks can read the run's settings (SOLVER.PATIENCE: epochs).
  const epochs = typeof config.epochs === 'number' ? config.epochs : DEFAULT_EPOCHS;
  for (const [key, value] of flat) {
    const neutralAt = NEUTRAL_AT[key];
    const mapped = MAPPING[key] !== undefined && (MAPPED_VALUES[key]?.(value) ?? true);
    const sslKey = (ssl !== undefined || swin !== undefined) && (key === 'MODEL.TYPE' || key === 'DATA.FEATURE');
    const honored = mapped || sslKey || NEUTRAL.has(key) || neutralAt?.(value, epochs);
    if (!honored) unsupported.push(key);
  }
  return { config, unsupported, ...(numberClasses ? { numberClasses } : {}) };
}
