/**
 * `createModel`: validated options -> checkpoint -> timm architecture -> native model with the
 * backbone loaded (and a trainable state, when given).
 */
import { loadAddon, type NativeModel } from '../binding.js';
import { callNative, ErrorCode, VptError } from '../errors.js';
import { runtimeInfo } from '../runtime-info.js';
import { checkArchitectureAgainstWeights, resolveArchitecture, type VitArchitecture } from '../weights/architecture.js';
import { type Checkpoint, openCheckpoint } from '../weights/checkpoint.js';
import { type ResolvedWeights, resolveWeights } from '../weights/resolve-weights.js';
import { isSwinArch } from '../weights/swin-archs.js';
import { rejectTransformersTensors } from '../weights/transformers-checkpoint.js';
import { createSwinModel } from './create-swin-model.js';
import { setHeadBias } from './head-init.js';
import { Model } from './model.js';
import { resolveNormalization } from './normalization.js';
import { type CreateModelOptions, type ResolvedModelOptions, resolveModelOptions } from './options.js';
import { initPromptsFromCls } from './prompt-init.js';
import { type SelfSupervised, selfSupervisedArchitecture } from './self-supervised.js';
import { loadSideWeights, SIDETUNE_MIN_IMAGE_SIZE } from './side-weights.js';

/**
 * Creates a prompted ViT from timm weights (`.safetensors` + `config.json`, or a folder holding
 * both) or a Google `.npz` (its architecture from `config.json`, `arch`, or a file name such as
 * `ViT-B_16.npz`). The checkpoint's classifier is dropped; the task gets a new head. An
 * `imageSize` other than the checkpoint's resamples the position embedding as timm does.
 * @example
 * ```ts
 * import { createModel } from 'vpt-native';
 * const model = await createModel({
 *   weights: 'models/vit_base_patch16_224.augreg_in21k',   // model.safetensors + config.json
 *   numClasses: 200,
 *   prompt: { tokens: 10, deep: true },
 *   imageSize: 384,                                        // from the 224 checkpoint
 * });
 * const logits = await model.forward({ pixels: images, shape: [8, 3, 384, 384] });
 * model.dispose();
 * ```
 */
export async function createModel(options: CreateModelOptions): Promise<Model> {
  return createModelWithFallbacks(options, {});
}

/** What createModelWithFallbacks falls back on (internal: not part of the public API). */
export interface ModelFallbacks {
  /**
   * The architecture when `arch` is not given and the weights have no config.json: a
   * trainable-state file's `__metadata__.vpt.arch`, which names the architecture it was trained
   * on. Preferred to the one a Google file name implies.
   */
  arch?: string;
}

/**
 * `createModel` whose frozen backbone is `source`'s own tensors, not a copy: the weights file
 * gives the architecture only, and the new model's backbone costs no memory. For models that
 * never write their backbone (transfer "prompt" or "linear", as `source`'s must be); the two
 * must have the same architecture, image size, device and `backboneDtype`. Each model keeps its
 * own prompts, head and optimizer; disposing one leaves the others theirs. tune's grouped trials
 * hold one backbone this way.
 * @example
 * ```ts
 * import { createModel, createModelSharingBackbone } from 'vpt-native';
 * const a = await createModel({ weights: 'models/vit_b16', numClasses: 200 });
 * const b = await createModelSharingBackbone({ weights: 'models/vit_b16', numClasses: 200, seed: 1 }, a);
 * console.log(a.info().backboneStorage === b.info().backboneStorage); // true
 * ```
 */
export async function createModelSharingBackbone(options: CreateModelOptions, source: Model): Promise<Model> {
  return createModelWithFallbacks(options, {}, source);
}

/** `createModel`, with `fallbacks` for what the options and the weights leave unknown (and `backboneOf`'s backbone, if given). */
export async function createModelWithFallbacks(
  options: CreateModelOptions,
  fallbacks: ModelFallbacks,
  backboneOf?: Model,
): Promise<Model> {
  const o = resolveModelOptions(options);
  if (backboneOf && (o.transfer === 'full' || o.transfer === 'bias' || o.transfer.startsWith('partial')))
    throw new VptError(
      ErrorCode.Option,
      `createModel: option "transfer": "${o.transfer}" trains backbone tensors, so the model cannot share another model's backbone (use "prompt", "linear" or "adapter")`,
    );
  if (backboneOf && o.transfer === 'sidetune')
    throw new VptError(
      ErrorCode.Option,
      `createModel: option "transfer": "sidetune" runs its own AlexNet side network and is not built on a shared backbone (use "prompt", "linear" or "adapter")`,
    );
  const source = backboneOf ? Model.nativeOf(backboneOf) : undefined;
  const resolved = await resolveWeights(o.weights, o.onDownloadProgress ? { onProgress: o.onDownloadProgress } : {});
  const checkpoint = await openCheckpoint(resolved.weightsPath);
  const configArch = typeof resolved.config?.architecture === 'string' ? resolved.config.architecture : undefined;
  if (isSwinArch(o.arch ?? configArch ?? fallbacks.arch)) {
    // A Swin Transformer (create-swin-model.ts): VPT's prompted Swin.
    try {
      return await createSwinModel(o, options, resolved, checkpoint, fallbacks.arch);
    } finally {
      await checkpoint.close();
    }
  }
  let backbone: Awaited<ReturnType<typeof loadBackbone>>;
  try {
    backbone = await loadBackbone(o, resolved, checkpoint, fallbacks, source);
  } finally {
    await checkpoint.close();
  }
  const model = new Model(backbone.native, {
    architecture: { ...backbone.architecture, ...resolveNormalization(o.normalize, backbone.architecture) },
    imageSize: backbone.imageSize,
    numClasses: o.numClasses,
    transfer: o.transfer,
    prompt: o.prompt,
    mlpLayers: o.mlpLayers,
    adapterReduction: o.adapterReduction,
    classNames: o.classNames ?? null,
    precision: o.precision,
    backboneDtype: o.backboneDtype,
    poolPrompts: o.poolPrompts,
    skipDiscardedPromptRows: o.skipDiscardedPromptRows,
    ...(backbone.selfSupervised ? { selfSupervised: backbone.selfSupervised } : {}),
  });
  const prompt = o.prompt;
  const init = prompt?.init ?? 'random';
  if (prompt && init !== 'random' && prompt.clsEmbeddings && !o.trainable) {
    const a = backbone.architecture;
    try {
      // VPT's CLS-embedding init (a trainable state, when given, replaces it anyway).
      await initPromptsFromCls(backbone.native, init, prompt.clsEmbeddings, {
        tokens: prompt.tokens,
        depth: a.depth,
        embedDim: a.embedDim,
        deep: prompt.deep,
      });
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  if (o.headBias !== 0 && !o.trainable) {
    try {
      await setHeadBias(backbone.native, o.headBias);
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  if (o.trainable) {
    try {
      await model.loadTrainable(o.trainable);
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  return model;
}

/** The architecture, checked against the checkpoint, and a native model with its backbone loaded. */
async function loadBackbone(
  o: ResolvedModelOptions,
  resolved: ResolvedWeights,
  checkpoint: Checkpoint,
  fallbacks: ModelFallbacks,
  source?: NativeModel,
): Promise<{ architecture: VitArchitecture; imageSize: number; native: NativeModel; selfSupervised?: SelfSupervised }> {
  rejectTransformersTensors(
    checkpoint.entries.map((e) => e.name),
    resolved.weightsPath,
  );
  // A MoCo v3 checkpoint (lib/weights/moco-v3-layout.ts) runs as selfSupervised 'moco-v3' unless told otherwise.
  const selfSupervised = o.selfSupervised ?? (checkpoint.mocoV3 ? 'moco-v3' : undefined);
  const { freshFcNorm, sincosPosEmbed, ...architecture } = selfSupervisedArchitecture(
    resolveArchitecture({
      arch: o.arch,
      config: resolved.config,
      configPath: resolved.configPath,
      inferred: fallbacks.arch ?? checkpoint.inferredArch,
    }),
    selfSupervised,
    resolved.config?.pretrained_cfg?.mean !== undefined,
  );
  checkArchitectureAgainstWeights(architecture, checkpoint.shape, resolved.weightsPath);
  const imageSize = o.imageSize ?? architecture.imgSize;
  if (o.transfer === 'sidetune' && imageSize < SIDETUNE_MIN_IMAGE_SIZE) {
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "imageSize": transfer "sidetune" runs AlexNet beside the ViT, which needs images of at least ${SIDETUNE_MIN_IMAGE_SIZE} px; the model's are ${imageSize}`,
    );
  }
  if (imageSize % architecture.patchSize !== 0) {
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "imageSize": expected a multiple of the patch size ${architecture.patchSize}, got ${imageSize}`,
    );
  }
  const deepLayers = o.prompt?.deepLayers ?? null;
  if (deepLayers !== null && deepLayers > architecture.depth) {
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "prompt.deepLayers": the backbone has ${architecture.depth} blocks, got ${deepLayers}`,
    );
  }
  const device = o.device ?? (runtimeInfo().cudaAvailable ? 'cuda' : 'cpu');
  const { addon } = loadAddon();
  const native = await callNative(
    () =>
      new addon.NativeModel({
        vit: {
          ...architecture,
          imgSize: imageSize,
          ...(freshFcNorm ? { freshFcNorm } : {}),
          ...(sincosPosEmbed || checkpoint.mocoV3?.sincosPosEmbed ? { sincosPosEmbed: true } : {}),
        },
        prompt: o.prompt,
        numClasses: o.numClasses,
        headHiddenLayers: o.mlpLayers,
        transfer: o.transfer,
        adapterReduction: o.adapterReduction,
        headDropout: o.headDropout,
        device,
        seed: o.seed,
        precision: o.precision,
        backboneDtype: o.backboneDtype,
        checkpointBlocks: o.checkpointBlocks,
        fusedLayerNorm: o.fusedLayerNorm,
        skipDiscardedPromptRows: o.skipDiscardedPromptRows,
        poolPrompts: o.poolPrompts,
      }),
  );
  try {
    if (source) await callNative(() => native.shareBackbone(source));
    else await callNative(() => native.loadBackbone(checkpoint.dataPath, checkpoint.entries));
  } catch (error) {
    native.dispose();
    throw namingWeights(error, resolved.weightsPath);
  }
  if (o.transfer === 'sidetune' && o.sideWeights) {
    try {
      await loadSideWeights(native, o.sideWeights);
    } catch (error) {
      native.dispose();
      throw error;
    }
  }
  return { architecture, imageSize, native, ...(selfSupervised ? { selfSupervised } : {}) };
}

/** Codes of the native loader's errors about the weights themselves. */
const WEIGHTS_ERRORS = new Set<string>([ErrorCode.Weights, ErrorCode.Arch, ErrorCode.Shape]);

/**
 * A native loading error about the weights ("the weights do not fit the model: ..."), its message
 * prefixed with the weights file, which the native side does not know by name.
 */
function namingWeights(error: unknown, weightsPath: string): unknown {
  if (!(error instanceof VptError) || !WEIGHTS_ERRORS.has(error.code) || error.message.startsWith(weightsPath))
    return error;
  const named = new VptError(error.code, `${weightsPath}: ${error.message}`, { cause: error });
  if (error.stack) named.stack = error.stack.replace(error.message, named.message);
  return named;
}
