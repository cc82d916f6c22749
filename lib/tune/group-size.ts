/**
 * How many trials train together. A group holds one frozen backbone, which its models share
 * (transfer "prompt" / "linear"; with "full" each model trains a copy of its own), plus each
 * trial's trainable tensors, gradients and optimizer state; activations are transient, one
 * trial's step at a time. The group takes at most half of the memory free now, so the step's
 * activations and the loader have the rest.
 */
import { freemem } from 'node:os';

import { deviceMemory } from '../device-memory.js';
import type { ModelInfo } from '../model/model.js';
import { runtimeInfo } from '../runtime-info.js';

/** Share of the free memory the group's models may take. */
const GROUP_MEMORY_SHARE = 0.5;
/** Bytes per trainable parameter: fp32 weight, gradient and an optimizer buffer (momentum; AdamW has two). */
const TRAINABLE_BYTES = 4 * 4;

/** Bytes one trial's model keeps between steps: its trainable tensors' and, unless it shares the group's backbone, a backbone. */
export function trialModelBytes(
  info: Pick<ModelInfo, 'backboneBytes' | 'trainableParams'>,
  sharedBackbone = false,
): number {
  return (sharedBackbone ? 0 : info.backboneBytes) + info.trainableParams * TRAINABLE_BYTES;
}

/** Free memory where the models live: the GPU's total less what vpt-native reserved, else the host's. */
export function freeBytes(device: string): number {
  const cuda = /^cuda(?::(\d+))?$/.exec(device);
  if (!cuda) return freemem();
  const index = Number(cuda[1] ?? 0);
  const total = runtimeInfo().gpus.find((g) => g.index === index)?.totalMemory ?? 0;
  return Math.max(0, total - (deviceMemory(device)?.reserved ?? 0));
}

/** Trials per group: what half the free memory holds after the shared backbone's `sharedBytes`, between 1 and `trials`. */
export function groupSizeFor(trials: number, perTrialBytes: number, free: number, sharedBytes = 0): number {
  const fits = Math.floor((free * GROUP_MEMORY_SHARE - sharedBytes) / Math.max(1, perTrialBytes));
  return Math.max(1, Math.min(trials, fits));
}
