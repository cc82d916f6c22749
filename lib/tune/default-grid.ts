/**
 * KMnP/vpt's hyper-parameter grids (`tune_fgvc.py` / `tune_vtab.py`) per transfer type: base
 * learning rates (scaled by batchSize / 256, as `train` scales `baseLr`) and weight decays.
 */
import type { ResolvedTrainConfig } from '../config/train-config.js';

export interface GridAxes {
  /** Base learning rates (`baseLr`); the optimizer starts at baseLr x batchSize / 256. */
  lr: number[];
  /** Weight decays. */
  wd: number[];
}

/** VPT's weight decays, shared by every transfer type. */
export const VPT_WEIGHT_DECAYS = [0.01, 0.001, 0.0001, 0];

/**
 * Per transfer type. KMnP/vpt's tune scripts have no grid for the baselines (partial-k, bias,
 * adapter): a tune of those takes its `grid.lr` from the user.
 */
export const DEFAULT_GRIDS: Readonly<Partial<Record<ResolvedTrainConfig['transfer'], GridAxes>>> = {
  // Prompt tuning: 9 lrs x 4 wds = 36 configs.
  prompt: { lr: [50, 25, 10, 5, 2.5, 1, 0.5, 0.25, 0.1], wd: VPT_WEIGHT_DECAYS },
  // Linear probing: 10 lrs from 50 down to 0.05.
  linear: { lr: [50, 25, 10, 5, 2.5, 1, 0.5, 0.25, 0.1, 0.05], wd: VPT_WEIGHT_DECAYS },
  // Full fine-tuning.
  full: { lr: [0.001, 0.0005, 0.0001, 0.005], wd: VPT_WEIGHT_DECAYS },
};

/** The seeds of VPT's final runs (`tune_vtab.py`). */
export const VPT_SEEDS = [42, 44, 82, 100, 800] as const;

/** `n` final-run seeds: VPT's five, then 1000, 1001, ... for more. */
export function defaultSeeds(n: number): number[] {
  return Array.from({ length: n }, (_, i) => VPT_SEEDS[i] ?? 1000 + i - VPT_SEEDS.length);
}
