/**
 * Learning-rate schedule: linear warmup, then half-cosine decay to 0 (VPT's
 * WarmupCosineSchedule). Per step by default; per epoch reproduces VPT, whose scheduler steps
 * once per epoch (so its first epoch runs at lr 0).
 */
export interface Schedule {
  baseLr: number;
  unit: 'step' | 'epoch';
  warmupEpochs: number;
  epochs: number;
  stepsPerEpoch: number;
  /** Unit 'step': the warmup in whole steps, in place of warmupEpochs x stepsPerEpoch (a compressed schedule's, lib/tune/rung-schedule.ts). */
  warmupSteps?: number;
}

/** The learning rate for global step `step` (0-based). */
export function learningRateAt(s: Schedule, step: number): number {
  const unit = s.unit === 'step';
  const t = unit ? step : Math.floor(step / s.stepsPerEpoch);
  const warmup = unit ? (s.warmupSteps ?? s.warmupEpochs * s.stepsPerEpoch) : s.warmupEpochs;
  const total = unit ? s.epochs * s.stepsPerEpoch : s.epochs;
  if (t < warmup) return (s.baseLr * (unit ? t + 1 : t)) / warmup;
  const progress = (t - warmup) / Math.max(1, total - warmup);
  return s.baseLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
