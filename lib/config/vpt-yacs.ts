/**
 * Imports the original VPT repository's yacs YAML configs (e.g. `configs/prompt/cub.yaml`, with
 * `_BASE_` inheritance), so people moving from that code keep their configs. Keys vpt-native
 * cannot honor are returned by name, never silently dropped.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

import { parse as parseYaml } from 'yaml';

import { ErrorCode, VptError } from '../errors.js';
import type { TrainConfig } from './train-config.js';

type Yacs = Record<string, unknown>;

const TRANSFER: Record<string, TrainConfig['transfer']> = { prompt: 'prompt', linear: 'linear', end2end: 'full' };

/** yacs key -> how it maps onto TrainConfig. */
const MAPPING: Record<string, (v: unknown, out: Partial<TrainConfig>) => void> = {
  'MODEL.PROMPT.NUM_TOKENS': (v, o) => { o.promptTokens = v as number; },
  'MODEL.PROMPT.DEEP': (v, o) => { o.deep = v as boolean; },
  'MODEL.PROMPT.DROPOUT': (v, o) => { o.promptDropout = v as number; },
  'MODEL.PROMPT.PROJECT': (v, o) => { o.promptProject = (v as number) > 0 ? (v as number) : 0; },
  'MODEL.TRANSFER_TYPE': (v, o) => {
    const t = TRANSFER[String(v)];
    if (!t) throw new VptError(ErrorCode.Option, `MODEL.TRANSFER_TYPE "${String(v)}" is not supported (prompt, linear, end2end)`);
    o.transfer = t;
  },
  'MODEL.MLP_NUM': (v, o) => { o.mlpLayers = v as number; },
  'SOLVER.BASE_LR': (v, o) => { o.baseLr = v as number; },
  'SOLVER.WEIGHT_DECAY': (v, o) => { o.weightDecay = v as number; },
  'SOLVER.MOMENTUM': (v, o) => { o.momentum = v as number; },
  'SOLVER.OPTIMIZER': (v, o) => { o.optimizer = String(v).toLowerCase() as TrainConfig['optimizer']; },
  'SOLVER.TOTAL_EPOCH': (v, o) => { o.epochs = v as number; },
  'SOLVER.WARMUP_EPOCH': (v, o) => { o.warmupEpochs = v as number; },
  'DATA.BATCH_SIZE': (v, o) => { o.batchSize = v as number; },
  'DATA.CROPSIZE': (v, o) => { o.cropSize = v as number; },
  'DATA.CLASS_WEIGHTS_TYPE': (v, o) => { o.classWeights = v as TrainConfig['classWeights']; },
  'DATA.DATAPATH': (v, o) => { if (v) o.data = String(v); },
  'OUTPUT_DIR': (v, o) => { if (v) o.out = String(v); },
  'SEED': (v, o) => { if (v !== null && v !== undefined) o.seed = v as number; },
};

/** Keys that are bookkeeping of the original code and have no effect on the result here. */
const NEUTRAL = new Set([
  'NUM_GPUS', 'NUM_SHARDS', 'RUN_N_TIMES', 'DBG', 'CUDNN_BENCHMARK', 'MODEL.TYPE', 'MODEL.LINEAR.MLP_SIZES',
  'SOLVER.LOG_EVERY_N', 'SOLVER.SCHEDULER', 'SOLVER.LOSS', 'SOLVER.PATIENCE', 'DATA.NUM_WORKERS', 'DATA.PIN_MEMORY',
  'DATA.NAME', 'DATA.FEATURE', 'DATA.NUMBER_CLASSES', 'DATA.MULTILABEL', 'MODEL.PROMPT.LOCATION', 'MODEL.PROMPT.INITIATION',
  'MODEL.PROMPT.VIT_POOL_TYPE', 'SOLVER.WEIGHT_DECAY_BIAS', 'MODEL.SAVE_CKPT', 'MODEL.MODEL_ROOT', 'MODEL.WEIGHT_PATH',
]);

export interface VptYacsImport {
  config: Partial<TrainConfig>;
  /** Keys present in the file that vpt-native does not honor. */
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
    throw new VptError(ErrorCode.Option, `cannot read VPT config ${full}: ${(error as Error).message}`, { cause: error });
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new VptError(ErrorCode.Option, `VPT config ${full} is not a mapping`);
  const { _BASE_: base, ...rest } = doc as Yacs;
  const parent = typeof base === 'string' ? await loadWithBase(resolve(dirname(full), base), seen) : {};
  return merge(parent, rest);
}

function merge(a: Yacs, b: Yacs): Yacs {
  const out: Yacs = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = prev && v && typeof prev === 'object' && typeof v === 'object' && !Array.isArray(v) ? merge(prev as Yacs, v as Yacs) : v;
  }
  return out;
}

function flatten(node: Yacs, prefix = ''): Array<[string, unknown]> {
  return Object.entries(node).flatMap(([k, v]) =>
    v && typeof v === 'object' && !Array.isArray(v) ? flatten(v as Yacs, `${prefix}${k}.`) : [[`${prefix}${k}`, v] as [string, unknown]],
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
    const map = MAPPING[key];
    if (map) map(value, config);
    else if (!NEUTRAL.has(key)) unsupported.push(key);
  }
  return { config, unsupported, ...(numberClasses ? { numberClasses } : {}) };
}
