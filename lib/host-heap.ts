/**
 * The process's C heap (glibc malloc, used by LibTorch on the CPU, libvips, librsvg): how much is
 * live, how much malloc holds free, and handing the free pages back.
 *
 * glibc keeps freed memory for reuse, and gives back only what lies at the top of an arena. Work
 * whose size grows over a run (the curves of a growing history, rendered every epoch) frees
 * blocks that later, larger requests cannot reuse, so resident memory crept up epoch after epoch
 * with nothing leaked (bench/soak-train.mjs). A run trims after each epoch's writes.
 */
import { loadAddon } from './binding.js';

/** Bytes malloc has handed out and not yet freed (`inUse`) and bytes it holds free (`free`); null without glibc. */
export function hostHeap(): { inUse: number; free: number } | null {
  return loadAddon().addon.hostHeap();
}

/** Gives malloc's free pages back to the system (malloc_trim); true when some were. No-op (false) without glibc. */
export function trimHostHeap(): boolean {
  return loadAddon().addon.trimHostHeap();
}
