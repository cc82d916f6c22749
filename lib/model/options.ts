/** Options of `createModel`, validated at runtime, with VPT's defaults. */
import { z } from 'zod';

import { parseOptions } from '../util/validate.js';
import type { DownloadProgress } from '../weights/hub.js';
import { impliesPoolPrompts, SELF_SUPERVISED } from './self-supervised.js';

/** VPT's defaults (KMnP/vpt `configs/config.py`): 5 tokens, shallow, no dropout, no projection. */
export const DEFAULT_PROMPT = {
  tokens: 5,
  deep: false,
  dropout: 0,
  project: 0,
  deepLayers: null,
  reverseDeep: false,
  deepShared: false,
  deepNoExpand: false,
  pool: 'original',
  init: 'random',
  clsEmbeddings: null,
  location: 'prepend',
} as const;

/** VPT's output pooling (MODEL.PROMPT.VIT_POOL_TYPE). */
export const PROMPT_POOLS = ['original', 'img_pool', 'prompt_pool', 'imgprompt_pool'] as const;
export type PromptPool = (typeof PROMPT_POOLS)[number];

/** Where the prompts go (MODEL.PROMPT.LOCATION). */
export const PROMPT_LOCATIONS = [
  'prepend',
  'add',
  'add-1',
  'prepend-pixel',
  'prepend-pixel-gaussian',
  'prepend-pixel-imgnettransform',
  'pad',
  'below',
] as const;
export type PromptLocation = (typeof PROMPT_LOCATIONS)[number];

/** VPT's pixel-space locations: shallow prompts of pixels, which KMnP/vpt defines with its defaults only. */
export const PIXEL_PROMPT_LOCATIONS: readonly PromptLocation[] = [
  'prepend-pixel',
  'prepend-pixel-gaussian',
  'prepend-pixel-imgnettransform',
  'pad',
  'below',
];

/** VPT's prompt initiations (MODEL.PROMPT.INITIATION). */
export const PROMPT_INITS = ['random', 'final-cls', 'cls-nolastl', 'cls-nofirstl'] as const;
export type PromptInit = (typeof PROMPT_INITS)[number];

/**
 * What trains besides the head: 'prompt' the prompts, 'linear' nothing else, 'full' everything,
 * and VPT's Table 1 baselines (KMnP/vpt MODEL.TRANSFER_TYPE): 'partial-k' the last k blocks and
 * the final norm, 'bias' every bias of the backbone (BitFit; VPT's tinytl-bias), 'adapter' a
 * Pfeiffer adapter after every block's MLP (width D / `adapterReduction`), 'sidetune' a trained
 * AlexNet side network mixed into the frozen ViT's features (VPT's side; `sideWeights`).
 */
export const TRANSFERS = ['prompt', 'linear', 'full', 'bias', 'adapter', 'sidetune'] as const;
export type Transfer = (typeof TRANSFERS)[number] | `partial-${number}`;

const PARTIAL = /^partial-[1-9]\d{0,3}$/;

/** The transfer modes, as a zod schema ('partial-k' for k from 1). */
export const transferSchema = z.union([
  z.enum(TRANSFERS),
  z.custom<`partial-${number}`>(
    (v) => typeof v === 'string' && PARTIAL.test(v),
    'expected "prompt", "linear", "full", "bias", "adapter", "sidetune" or "partial-k" (k the number of last blocks)',
  ),
]);

/** k of 'partial-k', or 0 for the other modes. */
export function partialBlocks(transfer: Transfer): number {
  return transfer.startsWith('partial-') ? Number(transfer.slice('partial-'.length)) : 0;
}

/** Whether `transfer` trains tensors of the backbone itself (full, partial-k, bias). */
export function trainsBackbone(transfer: Transfer): boolean {
  return transfer === 'full' || transfer === 'bias' || partialBlocks(transfer) > 0;
}

/** The baselines that train neither prompts nor the whole backbone: partial-k, bias, adapter, sidetune. */
export function isBaselineTransfer(transfer: Transfer): boolean {
  return transfer === 'bias' || transfer === 'adapter' || transfer === 'sidetune' || partialBlocks(transfer) > 0;
}

const promptSchema = z
  .strictObject({
    tokens: z.int().min(1).max(4096),
    deep: z.boolean().default(false),
    dropout: z.number().min(0).lt(1).default(0),
    project: z.int().min(0).default(0),
    /**
     * VPT-deep in only the first k blocks (the paper's depth ablation; MODEL.PROMPT.NUM_DEEP_LAYERS):
     * new prompts before blocks 0..k-1, whose rows then run on through the blocks above. Default: all.
     */
    deepLayers: z.int().min(1).nullable().default(null),
    /** With `deepLayers` k: prompts in the last k blocks instead, none below (MODEL.PROMPT.REVERSE_DEEP). */
    reverseDeep: z.boolean().default(false),
    /** One prompt set (prompt_embeddings) enters every prompted block (MODEL.PROMPT.DEEP_SHARED). */
    deepShared: z.boolean().default(false),
    /** The prompt rows leave the sequence after the last prompted block (MODEL.PROMPT.FORWARD_DEEP_NOEXPAND). */
    deepNoExpand: z.boolean().default(false),
    /**
     * What the head reads (MODEL.PROMPT.VIT_POOL_TYPE): 'original' the backbone's own pooling (the
     * class token), or the mean of the image tokens ('img_pool'), the prompt tokens
     * ('prompt_pool') or both ('imgprompt_pool') after the final norm.
     */
    pool: z.enum(PROMPT_POOLS).default('original'),
    /**
     * How the prompts start (MODEL.PROMPT.INITIATION): 'random' (VPT's uniform, bound
     * sqrt(6 / (3 p^2 + D))), or from `clsEmbeddings`, a `tokens` x (depth + 1) x D `.npy` of class-token
     * embeddings (`vpt-native cls-embeddings` computes one): 'final-cls' every set from the last
     * block's output, 'cls-nolastl' set i from the class token entering block i, 'cls-nofirstl'
     * set i from block i's output.
     */
    init: z.enum(PROMPT_INITS).default('random'),
    /** The `.npy` the CLS inits read (MODEL.PROMPT.CLSEMB_PATH). */
    clsEmbeddings: z.string().min(1).nullable().default(null),
    /**
     * Where the prompts go (MODEL.PROMPT.LOCATION): 'prepend' (after the class token), or added to
     * the embedded tokens -- 'add': a learnable row per token (class + patches; `tokens` is then
     * ignored), 'add-1': one row added to every token. Deep: added again before each prompted block.
     * In pixel space (shallow only; no dropout or projection, as in VPT): 'prepend-pixel' N patches of
     * pixels (VPT's uniform init; '-gaussian' N(0, 1); '-imgnettransform' uniform(0, 1) normalised with
     * ImageNet's mean / std) put through the patch embedding and prepended; 'pad' a learnable border of
     * width N (uniform(0, 1), ImageNet-normalised) that grows the image to imageSize + 2N; 'below' N
     * learnable channels after the image's 3, embedded by a (3 + N)-channel patch embedding, trained too.
     */
    location: z.enum(PROMPT_LOCATIONS).default('prepend'),
  })
  .superRefine((p, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    const variant = p.deepLayers !== null || p.reverseDeep || p.deepShared || p.deepNoExpand;
    if (variant && !p.deep) {
      const key =
        p.deepLayers !== null
          ? 'deepLayers'
          : p.reverseDeep
            ? 'reverseDeep'
            : p.deepShared
              ? 'deepShared'
              : 'deepNoExpand';
      issue(key, 'is a VPT-deep variant: set "deep": true as well');
    }
    if (p.reverseDeep && p.deepLayers === null)
      issue('reverseDeep', 'needs "deepLayers": the number of last blocks that get prompts');
    if (p.reverseDeep && (p.deepShared || p.deepNoExpand))
      issue(
        'reverseDeep',
        'runs its own prompt set per block and keeps the rows: not with deepShared or deepNoExpand (as in VPT)',
      );
    if (p.deepNoExpand && p.deepShared)
      issue('deepNoExpand', 'runs its own prompt set per block: not with deepShared (as in VPT)');
    const pixel = PIXEL_PROMPT_LOCATIONS.includes(p.location);
    if (pixel && (p.deep || p.project > 0 || p.pool !== 'original' || p.init !== 'random'))
      issue(
        'location',
        `"${p.location}" is one of VPT's pixel-space locations, which it defines for shallow prompts only: not with deep, project, a pool other than "original" or an init other than "random"`,
      );
    else if (p.location !== 'prepend' && (p.pool !== 'original' || p.deepNoExpand || p.init !== 'random'))
      issue(
        'location',
        `"${p.location}" adds the prompts to the tokens, no rows of their own: pool "original", random init, no deepNoExpand (as in VPT)`,
      );
    if (p.init !== 'random' && p.clsEmbeddings === null)
      issue('clsEmbeddings', `init "${p.init}" reads class-token embeddings: give their .npy file`);
    if (p.init === 'random' && p.clsEmbeddings !== null)
      issue('init', 'clsEmbeddings is read by the CLS inits only: set init to final-cls, cls-nolastl or cls-nofirstl');
    if (p.init !== 'random' && (p.project > 0 || variant))
      issue(
        'init',
        `"${p.init}" sets prompts of the model's width, one set per block, as in VPT: not with project or the deep variants`,
      );
    if (p.deepNoExpand && p.pool !== 'original')
      issue(
        'pool',
        `"${p.pool}" reads the last block's rows, which deepNoExpand leaves without prompts: use "original"`,
      );
  });

const createModelSchema = z
  .strictObject({
    weights: z.string().min(1),
    arch: z.string().min(1).optional(),
    numClasses: z.int().min(1),
    imageSize: z.int().min(1).optional(),
    prompt: promptSchema.nullable().optional(),
    transfer: transferSchema.default('prompt'),
    /**
     * VPT's MLP head (MODEL.MLP_NUM): hidden layers of Linear(D, D), ReLU, BatchNorm1d and
     * dropout `headDropout` before the classifier (the paper's MLP-k baseline with transfer 'linear').
     */
    mlpLayers: z.int().min(0).max(16).default(0),
    /** The MLP head's dropout after each hidden layer (VPT: 0.1). */
    headDropout: z.number().min(0).lt(1).default(0.1),
    /** transfer 'adapter': the adapters' reduction factor, width D / r (MODEL.ADAPTER.REDUCATION_FACTOR). */
    adapterReduction: z.int().min(1).default(8),
    /**
     * transfer 'sidetune': torchvision's AlexNet state dict as .safetensors (its features.* start
     * the side network, its classifier.* is ignored). Not needed with `trainable`, whose state
     * holds the whole side network.
     */
    sideWeights: z.string().min(1).optional(),
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
     * The image normalisation: 'timm' the weights' config.json (0.5 / 0.5 for timm's in21k ViTs),
     * 'vpt' ImageNet's mean / std as KMnP/vpt's transforms use, or explicit `{ mean, std }` (RGB).
     */
    normalize: z
      .union([
        z.enum(['timm', 'vpt']),
        z.strictObject({
          mean: z.tuple([z.number(), z.number(), z.number()]),
          std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
        }),
      ])
      .default('timm'),
    /** The head's initial bias for every class: 0, or VPT's -log(99) (`VPT_HEAD_BIAS`; its MLP head's special_bias). */
    headBias: z.number().finite().default(0),
    /**
     * Average and MAP (SigLIP) pooling read the prompt tokens' outputs too. Off (the default),
     * prompts count as prefix tokens, which timm's pooling leaves out: the pool covers the patch
     * tokens only. Token pooling reads the class token either way.
     */
    poolPrompts: z.boolean().default(false),
    /**
     * A self-supervised backbone as VPT runs it (`MODEL.TYPE: ssl-vit`, lib/model/self-supervised.ts).
     * 'mae': global average pooling of the tokens after the class token, then `fc_norm` (an
     * identity LayerNorm when the checkpoint has none, its `norm` unused, as MAE's fine-tuning and
     * VPT load a pretraining checkpoint); with prepended prompts and pool 'original' the mean
     * covers the prompts too (VPT's vit_mae.py), so `poolPrompts` is implied. 'moco-v3': the class
     * token after the final norm, a missing `pos_embed` computed as MoCo v3's fixed 2D sin-cos.
     * Both: ImageNet's mean / std when no config.json gives them.
     */
    selfSupervised: z.enum(SELF_SUPERVISED).optional(),
    trainable: z.string().min(1).optional(),
    classNames: z.array(z.string()).optional(),
    /** Called while hub weights download: `{ file, received, total }`. */
    onDownloadProgress: z
      .custom<(p: DownloadProgress) => void>((v) => typeof v === 'function', 'expected a function')
      .optional(),
  })
  .superRefine((o, ctx) => {
    if ((o.transfer === 'full' || isBaselineTransfer(o.transfer)) && o.checkpointBlocks) {
      ctx.addIssue({
        code: 'custom',
        path: ['checkpointBlocks'],
        message: 'activation checkpointing is for frozen backbones (transfer "prompt" or "linear")',
      });
    }
    if (isBaselineTransfer(o.transfer) && o.prompt) {
      ctx.addIssue({
        code: 'custom',
        path: ['prompt'],
        message: `transfer "${o.transfer}" trains no prompts: leave "prompt" unset or null`,
      });
    }
    if (o.transfer === 'sidetune' && !o.sideWeights && !o.trainable) {
      ctx.addIssue({
        code: 'custom',
        path: ['sideWeights'],
        message:
          'transfer "sidetune" starts its side network from torchvision\'s AlexNet: give its .safetensors (or a trainable state)',
      });
    }
    if (o.transfer !== 'sidetune' && o.sideWeights) {
      ctx.addIssue({
        code: 'custom',
        path: ['sideWeights'],
        message: 'is read by transfer "sidetune" only',
      });
    }
    if (o.transfer === 'sidetune' && o.skipDiscardedPromptRows) {
      ctx.addIssue({
        code: 'custom',
        path: ['skipDiscardedPromptRows'],
        message: 'transfer "sidetune" has no prompt rows to skip',
      });
    }
    if (o.transfer === 'sidetune' && o.imageSize !== undefined && o.imageSize < 63) {
      ctx.addIssue({
        code: 'custom',
        path: ['imageSize'],
        message: `transfer "sidetune": the side network (AlexNet) needs images of at least 63 px, got ${o.imageSize}`,
      });
    }
    if (o.checkpointBlocks && o.fusedLayerNorm) {
      ctx.addIssue({
        code: 'custom',
        path: ['fusedLayerNorm'],
        message: 'recomputed blocks (checkpointBlocks) run unfused: use one of checkpointBlocks and fusedLayerNorm',
      });
    }
    if (trainsBackbone(o.transfer) && o.backboneDtype === 'bfloat16') {
      ctx.addIssue({
        code: 'custom',
        path: ['backboneDtype'],
        message: `a bfloat16 backbone must be frozen: transfer "${o.transfer}" trains backbone tensors in float32 (use transfer "prompt", "linear" or "adapter", or backboneDtype "float32")`,
      });
    }
    if (o.transfer === 'full' && o.prompt?.location === 'below') {
      ctx.addIssue({
        code: 'custom',
        path: ['prompt', 'location'],
        message: '"below" replaces the patch embedding with its own: not with transfer "full"',
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
  /** Absent in options and trainable states from before the deep variants: VPT's defaults. */
  deepLayers?: number | null;
  reverseDeep?: boolean;
  deepShared?: boolean;
  deepNoExpand?: boolean;
  pool?: PromptPool;
  init?: PromptInit;
  clsEmbeddings?: string | null;
  location?: PromptLocation;
}

/** `p` with every deep-variant field present (VPT's defaults for the absent ones). */
export function fullPromptOptions(p: PromptOptions): Required<PromptOptions> {
  return {
    deepLayers: null,
    reverseDeep: false,
    deepShared: false,
    deepNoExpand: false,
    pool: 'original',
    init: 'random',
    clsEmbeddings: null,
    location: 'prepend',
    ...p,
  };
}

/**
 * The prompt length from which `skipDiscardedPromptRows` is on by default. Measured on the CPU
 * (batch 16, idle 2-core VM, 2 threads, paired steps, bench/RESULTS.md, session 11): the train
 * step with it on against off was 0.99-1.02x at 1 prompt and 0.98-1.01x at 5 (even), and
 * 1.03-1.08x at 10 (ViT-Ti/16 and ViT-S/16, fp32 and bf16, six runs).
 */
export const SKIP_PROMPT_ROWS_FROM_TOKENS = 10;

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
  const poolPrompts = o.poolPrompts || impliesPoolPrompts(o.selfSupervised, prompt);
  return { ...o, prompt, skipDiscardedPromptRows, poolPrompts };
}
