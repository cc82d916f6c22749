/**
 * How many trials train together. Each trial's model holds its own copy of the frozen backbone
 * (the native model owns its weights) plus its trainable tensors, gradients and optimizer state;
 * activations are transient, one trial's step at a time. The group takes at most half of the
 * memory free now, so the step's activations and the loader have the rest.
 */
import { freemem } from 'node:os';

import { deviceMemory } from '../device-memory.js';
import type { ModelInfo } from '../model/model.js';
import { runtimeInfo } from '../runtime-info.js';

/** Share of the free memory the group's models may take. */
const GROUP_MEMORY_SHARE = 0.5;
/** Bytes per trainable parameter: fp32 weight, gradient and an optimizer buffer (momentum; AdamW has two). */
const TRAINABLE_BYTES = 4 * 4;

/** Bytes one trial's model keeps between steps. */
export function trialModelBytes(info: Pick<ModelInfo, 'backboneBytes' | 'trainableParams'>): number {
  return info.backboneBytes + info.trainableParams * TRAINABLE_BYTES;
}

/** Free memory where the models live: the GPU's total less what vpt-native reserved, else the host's. */
export function freeBytes(device: string): number {
  const cuda = /^cuda(?::(\d+))?$/.exec(device);
  if (!cuda) return freemem();
  const index = Number(cuda[1] ?? 0);
  const total = runtimeInfo().gpus.find((g) => g.index === index)?.totalMemory ?? 0;
  return Math.max(0, total - (deviceMemory(device)?.reserved ?? 0));
}

/** Trials per group: what half the free memory holds, between 1 and `trials`. */
export function groupSizeFor(trials: number, perTrialBytes: number, free: number): number {
  const fits = Math.floor((free * GROUP_MEMORY_SHARE) / Math.max(1, perTrialBytes));
  return Math.max(1, Math.min(trials, fits));
}
