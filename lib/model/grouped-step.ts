/**
 * The stacked group step: models that share one frozen backbone (createModelSharingBackbone;
 * transfer 'prompt' or 'linear') train one step together on one batch, in one native call. The
 * batch is stacked once per model along the batch dimension, each model's prompts (shallow, and
 * at every deep block) and head see only its own copy, and the backward of the summed losses
 * gives each model exactly its own gradients; then each model's optimizer steps with its own
 * learning rate, weight decay and momentum. Each model's step equals its own `trainStep` on the
 * batch within float rounding (fp32; tested to 1e-5), prompt and head dropout included (each
 * model draws from its own generator in its own order). See native/train/grouped_step.h.
 */
import { callNativeSync, VptError } from '../errors.js';
import { Model, type TrainStepResult } from './model.js';
import type { ModelInput } from './model-input.js';

/**
 * Why `models` cannot step together (null when they can): a transfer other than prompt or
 * linear, bf16, activation checkpointing, fused LayerNorm, prompt location pad / below, another
 * prompt shape or schedule than the first model's, a backbone not shared with the first model,
 * a data-parallel model, or an optimizer not configured.
 */
export function groupedStepUnsupported(models: readonly Model[]): string | null {
  if (models.length === 0) return 'no models';
  const [first, ...others] = models.map((m) => Model.nativeOf(m));
  try {
    return callNativeSync(() => first!.groupedStepUnsupported(others));
  } catch (error) {
    if (error instanceof VptError) return error.message;
    throw error;
  }
}

/**
 * One train step of every model on `input` and `labels`, stacked into one native call (run off
 * the JS thread). Each model's learning rate is what its `setLearningRate` last set.
 * @returns per model, in order, its step's result, or the VptError its step failed with (a
 *   VPT_NONFINITE streak); the others' steps stand. Throws, every model unchanged, when the
 *   models cannot step together (`groupedStepUnsupported`) or the stacked forward or backward
 *   fails (out of device memory, say): step them one after another then.
 * @example
 * ```ts
 * const b = await createModelSharingBackbone(options, a);
 * a.configureOptimizer({ optimizer: 'sgd', lr: 0.5 });
 * b.configureOptimizer({ optimizer: 'sgd', lr: 0.1 });
 * for await (const batch of loader.epoch(0)) {
 *   const [ra, rb] = await trainStepGrouped([a, b], batch.images, batch.labels);
 * }
 * ```
 */
export async function trainStepGrouped(
  models: readonly Model[],
  input: ModelInput,
  labels: Int32Array,
): Promise<(TrainStepResult | VptError)[]> {
  const [first, ...others] = models;
  if (!first) return [];
  return first.trainStepWith(others, input, labels);
}
