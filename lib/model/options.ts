/** Options of `createModel`, validated at runtime, with VPT's defaults. */
import { z } from 'zod';

import { parseOptions } from '../util/validate.js';
import type { DownloadProgress } from '../weights/hub.js';

/** VPT's defaults (KMnP/vpt `configs/config.py`): 5 tokens, shallow, no dropout, no projection. */
export const DEFAULT_PROMPT = { tokens: 5, deep: false, dropout: 0, project: 0 } as const;

const promptSchema = z.strictObject({
  tokens: z.int().min(1).max(4096),
  deep: z.boolean().default(false),
  dropout: z.number().min(0).lt(1).default(0),
  project: z.int().min(0).default(0),
});

const createModelSchema = z
  .strictObject({
    weights: z.string().min(1),
    arch: z.string().min(1).optional(),
    numClasses: z.int().min(1),
    imageSize: z.int().min(1).optional(),
    prompt: promptSchema.nullable().optional(),
    transfer: z.enum(['prompt', 'linear', 'full']).default('prompt'),
    mlpLayers: z.int().min(0).max(16).default(0),
    device: z
      .string()
      .regex(/^(cpu|cuda(:\d+)?)$/, 'expected "cpu", "cuda" or "cuda:N"')
      .optional(),
    seed: z
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .default(0),
    precision: z.enum(['fp32', 'bf16']).default('fp32'),
    /**
     * Storage of the frozen backbone's weights: 'bfloat16' halves their memory and runs the
     * backbone in bf16 (LayerNorm stays fp32); prompts and head stay fp32. Not with transfer 'full'.
     */
    backboneDtype: z.enum(['float32', 'bfloat16']).default('float32'),
    /** Activation checkpointing: recompute frozen blocks in the backward pass (less memory, ~1/3 more compute). */
    checkpointBlocks: z.boolean().default(false),
    /**
     * Run each residual add, the LayerNorm after it, the bf16 cast under autocast and the
     * deep-prompt insertion as one native op (one pass over the activations instead of three or
     * four). CPU: step time within noise of the separate ops, up to 15% less peak memory under
     * bf16 (bench/RESULTS.md). CUDA: the
     * kernels have not yet run on a GPU (scripts/gpu-check.mjs checks and times them). Off by
     * default; not used with `checkpointBlocks` (recomputed blocks run unfused).
     */
    fusedLayerNorm: z.boolean().default(false),
    /**
     * VPT-deep: every block's prompt outputs are overwritten by the next block's prompts (the
     * last block's are not pooled), so only the prompt rows' keys and values are computed --
     * not their queries, attention outputs, projection or MLP, forward or backward. Same
     * results within float rounding; off computes every row as timm does (for comparisons).
     * Default: on from SKIP_PROMPT_ROWS_FROM_TOKENS prompts, where it measured faster.
     */
    skipDiscardedPromptRows: z.boolean().optional(),
    /**
     * Average and MAP (SigLIP) pooling read the prompt tokens' outputs too. Off (the default),
     * prompts count as prefix tokens, which timm's pooling leaves out: the pool covers the patch
     * tokens only. Token pooling reads the class token either way.
     */
    poolPrompts: z.boolean().default(false),
    trainable: z.string().min(1).optional(),
    classNames: z.array(z.string()).optional(),
    /** Called while hub weights download: `{ file, received, total }`. */
    onDownloadProgress: z
      .custom<(p: DownloadProgress) => void>((v) => typeof v === 'function', 'expected a function')
      .optional(),
  })
  .superRefine((o, ctx) => {
    if (o.transfer === 'full' && o.checkpointBlocks) {
      ctx.addIssue({
        code: 'custom',
        path: ['checkpointBlocks'],
        message: 'activation checkpointing is for frozen backbones (transfer "prompt" or "linear")',
      });
    }
    if (o.checkpointBlocks && o.fusedLayerNorm) {
      ctx.addIssue({
        code: 'custom',
        path: ['fusedLayerNorm'],
        message: 'recomputed blocks (checkpointBlocks) run unfused: use one of checkpointBlocks and fusedLayerNorm',
      });
    }
    if (o.transfer === 'full' && o.backboneDtype === 'bfloat16') {
      ctx.addIssue({
        code: 'custom',
        path: ['backboneDtype'],
        message:
          'a bfloat16 backbone must be frozen: full fine-tuning trains the backbone in float32 (use transfer "prompt" or "linear", or backboneDtype "float32")',
      });
    }
    if (o.transfer === 'linear' && o.prompt) {
      ctx.addIssue({
        code: 'custom',
        path: ['prompt'],
        message: 'linear probing trains the head only: leave "prompt" unset or null',
      });
    }
    if (o.classNames && o.classNames.length !== o.numClasses) {
      ctx.addIssue({
        code: 'custom',
        path: ['classNames'],
        message: `has ${o.classNames.length} names but numClasses is ${o.numClasses}`,
      });
    }
  });

/** What `createModel` accepts. */
export type CreateModelOptions = z.input<typeof createModelSchema>;

export interface PromptOptions {
  tokens: number;
  deep: boolean;
  dropout: number;
  project: number;
}

/**
 * The prompt length from which `skipDiscardedPromptRows` is on by default. Measured on the CPU
 * (ViT-Ti/16, batch 16, idle 2-core VM, bench/RESULTS.md): the train step with it on against off
 * was 1.00x / 0.96x at 1 / 10 prompts in fp32 (computing the prompts' keys and values apart and
 * joining them costs more than the rows it saves) and 1.13x / 1.04x (fp32 / bf16) from 20 on.
 */
export const SKIP_PROMPT_ROWS_FROM_TOKENS = 20;

/** Options after validation and defaults. */
export type ResolvedModelOptions = Omit<z.output<typeof createModelSchema>, 'prompt' | 'skipDiscardedPromptRows'> & {
  prompt: PromptOptions | null;
  skipDiscardedPromptRows: boolean;
};

/** Validates `createModel` options and fills in VPT's defaults. */
export function resolveModelOptions(options: unknown): ResolvedModelOptions {
  const o = parseOptions(createModelSchema, options, 'createModel');
  const prompt = o.prompt === undefined ? (o.transfer === 'prompt' ? { ...DEFAULT_PROMPT } : null) : o.prompt;
  const skipDiscardedPromptRows = o.skipDiscardedPromptRows ?? (prompt?.tokens ?? 0) >= SKIP_PROMPT_ROWS_FROM_TOKENS;
  return { ...o, prompt, skipDiscardedPromptRows };
}
