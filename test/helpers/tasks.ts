/** Trainable-state files of several tasks on one backbone: what the multi-task and serve tests load. */
import { join } from 'node:path';

import { type CreateModelOptions, createModel, type Model } from '../../lib/index.js';

/** A task's shape: prompts (null for linear probing), classes, head layers; trained from `seed`. */
export interface TaskSpec {
  name: string;
  prompt: CreateModelOptions['prompt'];
  numClasses: number;
  mlpLayers?: number;
  seed: number;
}

/**
 * Deep prompts of two shapes' worth of tasks on the tiny fixture ViT: two deep tasks with
 * the same prompt shape (they share a batch), a shallow one, and two linear probes.
 */
export const MIXED_TASKS: TaskSpec[] = [
  { name: 'deep-a', prompt: { tokens: 3, deep: true, project: 8 }, numClasses: 7, mlpLayers: 1, seed: 1 },
  { name: 'deep-b', prompt: { tokens: 3, deep: true }, numClasses: 5, seed: 2 },
  { name: 'shallow', prompt: { tokens: 2 }, numClasses: 4, seed: 3 },
  { name: 'linear-a', prompt: null, numClasses: 3, seed: 4 },
  { name: 'linear-b', prompt: null, numClasses: 6, mlpLayers: 1, seed: 5 },
];

/**
 * Writes `<dir>/<name>.safetensors` for each task on `weights` (random prompts and heads from
 * the seeds: the forward is what is tested, not training), with class names `<name>-<i>`.
 * @returns each task's model (still open: the single-task references) and file
 */
export async function writeTaskStates(
  weights: string,
  dir: string,
  specs: TaskSpec[] = MIXED_TASKS,
  extra: Partial<CreateModelOptions> = {},
): Promise<Array<{ spec: TaskSpec; model: Model; path: string }>> {
  const out: Array<{ spec: TaskSpec; model: Model; path: string }> = [];
  for (const spec of specs) {
    const model = await createModel({
      weights,
      numClasses: spec.numClasses,
      prompt: spec.prompt,
      ...(spec.prompt === null ? { transfer: 'linear' } : {}),
      mlpLayers: spec.mlpLayers ?? 0,
      seed: spec.seed,
      device: 'cpu',
      ...extra,
      classNames: Array.from({ length: spec.numClasses }, (_, i) => `${spec.name}-${i}`),
    });
    const path = join(dir, `${spec.name}.safetensors`);
    await model.saveTrainable(path);
    out.push({ spec, model, path });
  }
  return out;
}
