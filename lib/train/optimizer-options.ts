/** Options of `model.configureOptimizer`, validated, with PyTorch's defaults. */
import { z } from 'zod';

import type { NativeOptimizerConfig } from '../binding.js';
import { parseOptions } from '../util/validate.js';

const optimizerSchema = z
  .strictObject({
    optimizer: z.enum(['sgd', 'adamw']),
    lr: z.number().positive(),
    momentum: z.number().min(0).lt(1).optional(),
    nesterov: z.boolean().default(false),
    weightDecay: z.number().min(0).default(0),
    betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.999]),
    eps: z.number().positive().default(1e-8),
    clipGradNorm: z.number().positive().optional(),
    /** Skipped (non-finite) steps in a row before training stops with VPT_NONFINITE. */
    maxNonFinite: z.int().min(1).default(5),
    /**
     * Capture the fixed-shape train step as a CUDA graph after 3 eager warm-up steps and replay
     * it. Steps that cannot be replayed (CPU, prompt dropout, activation checkpointing,
     * data-parallel, another batch shape, a failed capture) run eagerly; `model.graphStatus()`
     * says why.
     */
    cudaGraphs: z.boolean().default(false),
  })
  .superRefine((o, ctx) => {
    if (o.nesterov && (o.optimizer !== 'sgd' || !(o.momentum ?? 0.9))) {
      ctx.addIssue({
        code: 'custom',
        path: ['nesterov'],
        message: 'Nesterov momentum needs optimizer "sgd" with momentum > 0',
      });
    }
  });

/** What `configureOptimizer` accepts. */
export type OptimizerOptions = z.input<typeof optimizerSchema>;

/** Validates optimizer options; SGD momentum defaults to 0.9 (VPT's recipe). */
export function resolveOptimizerOptions(options: unknown): NativeOptimizerConfig {
  const o = parseOptions(optimizerSchema, options, 'configureOptimizer');
  return {
    kind: o.optimizer,
    lr: o.lr,
    momentum: o.optimizer === 'sgd' ? (o.momentum ?? 0.9) : 0,
    nesterov: o.nesterov,
    weightDecay: o.weightDecay,
    beta1: o.betas[0],
    beta2: o.betas[1],
    eps: o.eps,
    clipGradNorm: o.clipGradNorm ?? 0,
    maxNonFinite: o.maxNonFinite,
    cudaGraphs: o.cudaGraphs,
  };
}
