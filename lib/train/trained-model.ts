/** Rebuilds a tuned model from a backbone and a trainable-state file (its metadata says how). */

import { ErrorCode, VptError } from '../errors.js';
import { createModelWithFallbacks } from '../model/create-model.js';
import type { Model } from '../model/model.js';
import type { TrainableMetadata } from '../model/trainable-state.js';
import { readSafetensorsHeader } from '../weights/safetensors.js';

export interface TrainedModelOptions {
  /** The backbone the checkpoint was trained on. */
  weights: string;
  /** A trainable-state file, e.g. a run's `best.safetensors`. */
  checkpoint: string;
  /**
   * The backbone's timm architecture, when its weights have no config.json; default: the one
   * the checkpoint's metadata records (`__metadata__.vpt.arch`).
   */
  arch?: string;
  device?: string;
  precision?: 'fp32' | 'bf16';
}

/**
 * Loads `weights` with the head, prompts and options of the trainable-state file `checkpoint`.
 * @example
 * ```ts
 * const { model, metadata } = await loadTrainedModel({ weights: 'ViT-B_16.npz', checkpoint: 'runs/cub/best.safetensors' });
 * ```
 */
export async function loadTrainedModel(o: TrainedModelOptions): Promise<{ model: Model; metadata: TrainableMetadata }> {
  const header = await readSafetensorsHeader(o.checkpoint);
  let meta: TrainableMetadata | null;
  try {
    meta = JSON.parse(header.metadata.vpt ?? 'null') as TrainableMetadata | null;
  } catch {
    meta = null;
  }
  if (!meta || typeof meta.numClasses !== 'number') {
    throw new VptError(
      ErrorCode.Shape,
      `${o.checkpoint} is not a vpt-native trainable-state file (no __metadata__.vpt)`,
    );
  }
  const model = await createModelWithFallbacks(
    {
      weights: o.weights,
      ...(o.arch ? { arch: o.arch } : {}),
      numClasses: meta.numClasses,
      imageSize: meta.imageSize,
      prompt: meta.prompt,
      transfer: meta.transfer,
      mlpLayers: meta.headHiddenLayers,
      // The pooling and backbone semantics it trained with, as recorded.
      ...(meta.poolPrompts ? { poolPrompts: true } : {}),
      ...(meta.selfSupervised ? { selfSupervised: meta.selfSupervised } : {}),
      ...(meta.adapterReduction ? { adapterReduction: meta.adapterReduction } : {}),
      // The normalisation the model trained with (--normalize), as recorded.
      ...(isTriple(meta.mean) && isTriple(meta.std) ? { normalize: { mean: meta.mean, std: meta.std } } : {}),
      ...(meta.classNames ? { classNames: meta.classNames } : {}),
      ...(o.device ? { device: o.device } : {}),
      ...(o.precision ? { precision: o.precision } : {}),
      trainable: o.checkpoint,
    },
    typeof meta.arch === 'string' && meta.arch ? { arch: meta.arch } : {},
  );
  return { model, metadata: meta };
}

function isTriple(v: unknown): v is [number, number, number] {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}
