/**
 * `TrainConfig`: every setting of a training run, validated at runtime, with defaults that
 * follow the VPT recipe (KMnP/vpt `configs/base-prompt.yaml` + `src/configs/config.py`).
 */
import { z } from 'zod';

import { parseNormalize } from '../model/normalization.js';
import { PROMPT_INITS, PROMPT_LOCATIONS, PROMPT_POOLS, transferSchema } from '../model/options.js';
import { SELF_SUPERVISED } from '../model/self-supervised.js';
import { parseOptions } from '../util/validate.js';

export const trainConfigSchema = z
  .strictObject({
    /** Dataset root: `images/` + `train.json` / `val.json` / `test.json`. */
    data: z.string().min(1),
    /** Backbone: a `.safetensors` / `.npz` file or a folder with `model.safetensors` + `config.json`. */
    weights: z.string().min(1),
    /** timm architecture name when the weights carry no config.json. */
    arch: z.string().min(1).optional(),
    /** Run folder (created; files in it are replaced atomically). */
    out: z.string().min(1),
    epochs: z.int().min(1).default(100),
    /** Linear warmup before the cosine decay; fewer than `epochs` (or 0). */
    warmupEpochs: z.int().min(0).default(10),
    /** The global batch: in a data-parallel run each of the N ranks trains on batchSize / N of it. */
    batchSize: z.int().min(1).default(128),
    /** The learning rate is baseLr x batchSize / 256. */
    baseLr: z.number().positive().default(0.25),
    optimizer: z.enum(['sgd', 'adamw']).default('sgd'),
    momentum: z.number().min(0).lt(1).default(0.9),
    weightDecay: z.number().min(0).default(1e-4),
    clipGradNorm: z.number().positive().optional(),
    /** 'step': warmup + cosine per optimizer step; 'epoch': VPT's per-epoch steps (epoch 0 at lr 0). */
    scheduleUnit: z.enum(['step', 'epoch']).default('step'),
    /** Also VPT's baselines: 'partial-k' (last k blocks + final norm), 'bias' (BitFit), 'adapter' (Pfeiffer), 'sidetune' (AlexNet side network). */
    transfer: transferSchema.default('prompt'),
    /** transfer 'adapter': the adapters' reduction factor (width D / r; VPT: 8). */
    adapterReduction: z.int().min(1).default(8),
    /** transfer 'sidetune': torchvision's AlexNet state dict as .safetensors (the side network's start). */
    sideWeights: z.string().min(1).optional(),
    /** The MLP head's dropout after each hidden layer (VPT: 0.1). */
    headDropout: z.number().min(0).lt(1).default(0.1),
    promptTokens: z.int().min(1).max(4096).default(5),
    deep: z.boolean().default(false),
    promptDropout: z.number().min(0).lt(1).default(0),
    /** Prompt dimension with a projection to the model width; 0 = no projection. */
    promptProject: z.int().min(0).default(0),
    /** VPT-deep in only the first k blocks (the paper's depth ablation), or with `reverseDeep` the last k. */
    deepLayers: z.int().min(1).optional(),
    /** With `deepLayers` k: prompts in the last k blocks, none below. */
    reverseDeep: z.boolean().default(false),
    /** One prompt set for every prompted block. */
    deepShared: z.boolean().default(false),
    /** The prompt rows leave the sequence after the last prompted block (with `deepLayers`). */
    deepNoExpand: z.boolean().default(false),
    /** What the head reads: the backbone's pooling, or the mean of the image / prompt / all tokens. */
    promptPool: z.enum(PROMPT_POOLS).default('original'),
    /** How the prompts start: VPT's random uniform, or from class-token embeddings (`clsEmbeddings`). */
    promptInit: z.enum(PROMPT_INITS).default('random'),
    /**
     * Where the prompts go: after the class token, or added to every token ('add' one row each, 'add-1' one row);
     * in pixel space (shallow): 'prepend-pixel*' pixel patches, 'pad' a border, 'below' extra input channels.
     */
    promptLocation: z.enum(PROMPT_LOCATIONS).default('prepend'),
    /** The `.npy` of class-token embeddings the CLS inits read (`vpt-native cls-embeddings` writes one). */
    clsEmbeddings: z.string().min(1).optional(),
    /** Hidden layers in the head, VPT's MLP head: Linear, ReLU, BatchNorm1d, dropout `headDropout`. */
    mlpLayers: z.int().min(0).max(16).default(0),
    /** The head's initial bias: 0, or VPT's -log(99) (`--head-bias vpt`). */
    headBias: z.number().finite().default(0),
    /** A self-supervised backbone as VPT runs it (MODEL.TYPE ssl-vit): 'mae' or 'moco-v3' (createModel's selfSupervised). */
    selfSupervised: z.enum(SELF_SUPERVISED).optional(),
    classWeights: z.enum(['none', 'inv', 'inv_sqrt']).default('none'),
    /**
     * Image normalisation: 'timm' (the weights' config.json; 0.5 / 0.5 for timm's in21k ViTs), 'vpt'
     * (ImageNet's mean / std, as KMnP/vpt's transforms), or "mean_r,mean_g,mean_b,std_r,std_g,std_b".
     */
    normalize: z
      .string()
      .refine((v) => {
        try {
          parseNormalize(v);
          return true;
        } catch {
          return false;
        }
      }, 'expected timm, vpt or six comma-separated numbers (mean r,g,b then std r,g,b; std > 0)')
      .default('timm'),
    cropSize: z.int().min(8).default(224),
    /**
     * 'fgvc': VPT's FGVC transforms (Resize(cropSize * 8 / 7) + RandomCrop + flip for training,
     * CenterCrop for eval). 'vtab': VTAB-1k's Resize((cropSize, cropSize), BICUBIC), no crop, no
     * flip, for training and eval alike (`augment` has no effect). Default: what the dataset's
     * splits.json says (`prepare vtab-<task>` writes 'vtab'), else 'fgvc'; the run's config.json
     * records the value used.
     */
    preprocess: z.enum(['fgvc', 'vtab']).optional(),
    /** Random crop + flip for training; off trains on the eval view (resize + center crop). */
    augment: z.boolean().default(true),
    /**
     * Without augmentation: linear probing computes the backbone features once and trains the head
     * on them; prompt tuning with prompts in the last blocks only (`reverseDeep`) computes the
     * frozen, prompt-free blocks below them once (T x D floats per training image in memory).
     */
    cacheFeatures: z.boolean().default(true),
    device: z
      .string()
      .regex(/^(cpu|cuda(:\d+)?)$/, 'expected "cpu", "cuda" or "cuda:N"')
      .optional(),
    /** Default: bf16 on CUDA, fp32 on CPU. */
    precision: z.enum(['fp32', 'bf16']).optional(),
    /** Frozen backbone weights in bfloat16: half the memory, the backbone runs in bf16 (not with transfer 'full'). */
    backboneDtype: z.enum(['float32', 'bfloat16']).default('float32'),
    seed: z
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .default(42),
    /** Activation checkpointing of the frozen blocks: less memory for large batches / many prompts. */
    checkpointBlocks: z.boolean().default(false),
    /** Residual adds fused with the LayerNorm after them and the deep-prompt insertion (createModel's option): less memory, off by default. */
    fusedLayerNorm: z.boolean().default(false),
    /**
     * VPT-deep: compute only the keys and values of prompt rows the next block overwrites (createModel's
     * option). Unset: on from SKIP_PROMPT_ROWS_FROM_TOKENS (10) prompts, where it measured faster.
     */
    skipDiscardedPromptRows: z.boolean().optional(),
    /**
     * CUDA: capture the fixed-shape train step as a CUDA graph after 3 eager steps and replay it
     * (fewer kernel launches). Where it cannot be (CPU, prompt dropout, checkpointBlocks,
     * data-parallel, a failed capture) training goes on eagerly and a notice says why.
     */
    cudaGraphs: z.boolean().default(false),
    /**
     * Images decoded at once; default: `defaultDecodeWorkers(2)` (lib/data/loader.ts), the libuv
     * thread pool (UV_THREADPOOL_SIZE, else 4) less the 2 threads kept for model calls, at most
     * twice the CPU count, at least 1. The CLI sizes the pool to the CPU count + 2 (at most 64),
     * so there it is one per core (at most 62); through the API at libuv's default pool, 2.
     */
    workers: z.int().min(1).optional(),
    evalBatchSize: z.int().min(1).optional(),
    onBadImage: z.enum(['error', 'skip']).default('error'),
    /** Data-parallel backend: 'auto' is NCCL on CUDA, Gloo on CPU. */
    distBackend: z.enum(['auto', 'gloo', 'nccl']).default('auto'),
    /** Data-parallel: seconds after which a rank that died or hangs stops the others with VPT_DISTRIBUTED. */
    distTimeout: z
      .number()
      .positive()
      .max(7 * 24 * 3600)
      .default(1800),
    /** Path of a `last.state.safetensors` to continue from. */
    resume: z.string().min(1).optional(),
  })
  .superRefine((c, ctx) => {
    // zod runs this even when a field failed its own check: judge only valid epoch counts.
    const valid = Number.isInteger(c.epochs) && c.epochs >= 1 && Number.isInteger(c.warmupEpochs);
    if (valid && c.warmupEpochs > 0 && c.warmupEpochs >= c.epochs) {
      ctx.addIssue({
        code: 'custom',
        path: ['warmupEpochs'],
        message: `${c.warmupEpochs} warmup epochs leave none of the ${c.epochs} epochs for the cosine decay; set warmupEpochs below epochs (e.g. --warmup-epochs 0)`,
      });
    }
  });

/** What `train()` accepts. */
export type TrainConfig = z.input<typeof trainConfigSchema>;
/** A validated config with every default filled in. */
export type ResolvedTrainConfig = z.output<typeof trainConfigSchema>;

/** The keys a config may set, for CLI flags and suggestions. */
export const TRAIN_CONFIG_KEYS = Object.keys(trainConfigSchema.shape) as Array<keyof ResolvedTrainConfig>;

/** Validates a config (unknown keys suggest the closest valid key) and fills in defaults. */
export function resolveTrainConfig(config: unknown, label = 'train config'): ResolvedTrainConfig {
  return parseOptions(trainConfigSchema, config, label);
}

/** The learning rate the optimizer starts from. */
export function scaledLearningRate(c: ResolvedTrainConfig): number {
  return (c.baseLr * c.batchSize) / 256;
}
