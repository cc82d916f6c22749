/**
 * The trainable-state file: the unit users keep per task. A safetensors file holding the
 * trainable tensors (prompts, projection, head; the backbone too for full fine-tuning, its
 * trained blocks / biases for partial-k / bias, the adapters for adapter; the MLP head's
 * BatchNorm running statistics), all F32, with `__metadata__.vpt` describing the model they belong to.
 */
import type { NativeTensor } from '../binding.js';
import { ErrorCode, VptError } from '../errors.js';
import { readSafetensors, writeSafetensors } from '../weights/safetensors.js';
import { type BackboneFingerprint, checkBackboneFingerprint } from './backbone-fingerprint.js';
import { fullPromptOptions, type PromptOptions, type Transfer } from './options.js';
import type { SelfSupervised } from './self-supervised.js';

export const TRAINABLE_FORMAT = 'vpt-native.trainable';
export const TRAINABLE_VERSION = 1;

/** `__metadata__.vpt` of a trainable-state file. */
export interface TrainableMetadata {
  format: typeof TRAINABLE_FORMAT;
  version: number;
  arch: string;
  embedDim: number;
  depth: number;
  patchSize: number;
  imageSize: number;
  transfer: Transfer;
  prompt: PromptOptions | null;
  numClasses: number;
  headHiddenLayers: number;
  /** transfer 'adapter': the adapters' reduction factor (absent otherwise). */
  adapterReduction?: number;
  classNames: string[] | null;
  mean: number[];
  std: number[];
  /** The backbone dtype it was trained with (informational: the tensors here are always F32). */
  backboneDtype?: 'float32' | 'bfloat16';
  /** The backbone it was trained on (absent in files from before fingerprints, which load anywhere they fit). */
  backbone?: BackboneFingerprint;
  /** Trained with average / MAP pooling over the prompts too (createModel's poolPrompts); absent: false. */
  poolPrompts?: boolean;
  /** Trained on a self-supervised backbone as VPT runs it (createModel's selfSupervised); absent: none. */
  selfSupervised?: SelfSupervised;
}

/** Writes the tensors and metadata (plus `extra` string metadata) atomically. */
export async function writeTrainableState(
  path: string,
  tensors: NativeTensor[],
  meta: TrainableMetadata,
  extra: Record<string, string> = {},
): Promise<void> {
  await writeSafetensors(path, tensors, { ...extra, vpt: JSON.stringify(meta) });
}

/**
 * Reads a trainable-state file and checks its metadata against the model's; every field
 * that differs is named in one VPT_SHAPE error.
 */
export async function readTrainableState(
  path: string,
  model: TrainableMetadata,
): Promise<{ tensors: NativeTensor[]; metadata: TrainableMetadata }> {
  const { metadata, tensors } = await readSafetensors(path);
  return { tensors: [...tensors.values()], metadata: checkTrainableMetadata(path, metadata, model) };
}

/** Parses `__metadata__.vpt` of `path` and checks it against the model's (see readTrainableState). */
export function checkTrainableMetadata(
  path: string,
  metadata: Record<string, string>,
  model: TrainableMetadata,
): TrainableMetadata {
  let meta: Partial<TrainableMetadata>;
  try {
    meta = JSON.parse(metadata.vpt ?? 'null') as Partial<TrainableMetadata>;
  } catch {
    throw new VptError(ErrorCode.Shape, `${path}: __metadata__.vpt is not valid JSON`);
  }
  if (!meta || meta.format !== TRAINABLE_FORMAT) {
    throw new VptError(
      ErrorCode.Shape,
      `${path} is not a vpt-native trainable-state file (no __metadata__.vpt with format "${TRAINABLE_FORMAT}")`,
    );
  }
  if ((meta.version ?? 0) > TRAINABLE_VERSION) {
    throw new VptError(
      ErrorCode.Shape,
      `${path} has trainable-state version ${meta.version}; this vpt-native reads up to ${TRAINABLE_VERSION}`,
    );
  }
  checkBackboneFingerprint(path, meta.backbone, model.backbone);
  const fields: Array<[string, unknown, unknown]> = [
    ['embedDim', meta.embedDim, model.embedDim],
    ['depth', meta.depth, model.depth],
    ['transfer', meta.transfer, model.transfer],
    ['numClasses', meta.numClasses, model.numClasses],
    ['mlpLayers', meta.headHiddenLayers, model.headHiddenLayers],
    ['adapterReduction', meta.adapterReduction ?? null, model.adapterReduction ?? null],
    ['prompt.tokens', meta.prompt?.tokens ?? 0, model.prompt?.tokens ?? 0],
    ['prompt.deep', meta.prompt?.deep ?? false, model.prompt?.deep ?? false],
    ['prompt.project', meta.prompt?.project ?? 0, model.prompt?.project ?? 0],
    ['poolPrompts', meta.poolPrompts ?? false, model.poolPrompts ?? false],
    ['selfSupervised', meta.selfSupervised ?? null, model.selfSupervised ?? null],
  ];
  // The deep variants and the pool type (absent in files from before them: VPT's defaults).
  if (meta.prompt && model.prompt) {
    const saved = fullPromptOptions(meta.prompt);
    const current = fullPromptOptions(model.prompt);
    for (const key of ['deepLayers', 'reverseDeep', 'deepShared', 'deepNoExpand', 'pool', 'location'] as const) {
      fields.push([`prompt.${key}`, saved[key], current[key]]);
    }
  }
  const differing = fields.filter(([, saved, current]) => saved !== current);
  if (differing.length > 0) {
    const saved = differing.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ');
    const current = differing.map(([k, , v]) => `${k}=${JSON.stringify(v)}`).join(', ');
    throw new VptError(ErrorCode.Shape, `${path} was saved for another model (${saved}); this model has ${current}`);
  }
  return meta as TrainableMetadata;
}
