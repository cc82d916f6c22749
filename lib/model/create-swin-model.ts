/**
 * `createModel` for a Swin Transformer backbone (timm's `swin_*_patch4_*`): VPT's prompted Swin
 * (native/model/prompted_swin.h), linear probing or full fine-tuning. The native model has
 * `NativeModel`'s methods, so the returned `Model` trains, evaluates and saves as a ViT's does.
 * Options only the ViT implements are refused by name here rather than ignored.
 */
import { loadAddon, type NativeModel } from '../binding.js';
import { callNative, ErrorCode, VptError } from '../errors.js';
import { runtimeInfo } from '../runtime-info.js';
import type { VitArchitecture } from '../weights/architecture.js';
import type { Checkpoint } from '../weights/checkpoint.js';
import type { ResolvedWeights } from '../weights/resolve-weights.js';
import { resolveSwinArchitecture, type SwinArchitecture } from '../weights/swin-archs.js';
import { setHeadBias } from './head-init.js';
import { Model } from './model.js';
import { resolveNormalization } from './normalization.js';
import type { CreateModelOptions, ResolvedModelOptions } from './options.js';

/** The plain configuration object `NativeSwinModel` is constructed from. */
export interface NativeSwinModelConfig {
  swin: {
    imgSize: number;
    patchSize: number;
    inChans: number;
    embedDim: number;
    depths: number[];
    numHeads: number[];
    windowSize: number;
    mlpRatio: number;
  };
  prompt: { tokens: number; deep: boolean; dropout: number } | null;
  numClasses: number;
  headHiddenLayers: number;
  transfer: 'prompt' | 'linear' | 'full';
  device: string;
  seed: number;
}

/** Throws VPT_OPTION naming the first option a Swin backbone does not implement. */
export function refuseSwinOptions(o: ResolvedModelOptions, raw: CreateModelOptions): void {
  const refuse = (option: string, why: string) => {
    throw new VptError(ErrorCode.Option, `Invalid option "${option}": not supported with a Swin backbone (${why})`);
  };
  if (raw.skipDiscardedPromptRows !== undefined) refuse('skipDiscardedPromptRows', 'a ViT VPT-deep optimisation');
  if (o.checkpointBlocks) refuse('checkpointBlocks', 'activation checkpointing is implemented for the ViT only');
  if (o.fusedLayerNorm) refuse('fusedLayerNorm', 'the fused kernels serve the ViT blocks only');
  if (o.precision !== 'fp32') refuse('precision', 'the Swin model runs in fp32 only');
  if (o.backboneDtype !== 'float32') refuse('backboneDtype', 'the Swin model stores its backbone in float32 only');
  if (o.transfer !== 'prompt' && o.transfer !== 'linear' && o.transfer !== 'full')
    refuse('transfer', `the Table-1 baseline "${o.transfer}" is implemented for the ViT only`);
  if (o.mlpLayers > 0)
    refuse('mlpLayers', "VPT's MLP head (BatchNorm in training mode, dropout) is wired into the ViT's train step only");
  if (o.selfSupervised !== undefined) refuse('selfSupervised', 'MAE and MoCo v3 are ViT backbones');
  if (raw.poolPrompts === false)
    refuse('poolPrompts', "VPT's Swin averages the prompt rows with the map positions; there is no other pool");
  const p = o.prompt;
  if (!p) return;
  if (p.project > 0) refuse('prompt.project', 'KMnP projects prompts for the ViT only');
  if (p.deepLayers !== null && p.deepLayers !== undefined) refuse('prompt.deepLayers', 'deep variants are ViT-only');
  if (p.reverseDeep) refuse('prompt.reverseDeep', 'deep variants are ViT-only');
  if (p.deepShared) refuse('prompt.deepShared', 'deep variants are ViT-only');
  if (p.deepNoExpand) refuse('prompt.deepNoExpand', 'deep variants are ViT-only');
  if ((p.pool ?? 'original') !== 'original') refuse('prompt.pool', 'the pool types are ViT-only');
  if ((p.init ?? 'random') !== 'random') refuse('prompt.init', 'the CLS-embedding inits need a class token');
  if ((p.location ?? 'prepend') !== 'prepend') refuse('prompt.location', "KMnP's Swin path here prepends prompts");
}

/**
 * The VitArchitecture-shaped description `Model` records in trainable states and `info()`:
 * `embedDim` is the width the head reads (the last stage's), `depth` the number of blocks over
 * all stages, `numHeads` the first stage's heads.
 */
export function swinModelArchitecture(a: SwinArchitecture): VitArchitecture {
  return {
    arch: a.arch,
    ...(a.tag ? { tag: a.tag } : {}),
    imgSize: a.imgSize,
    patchSize: a.patchSize,
    inChans: a.inChans,
    embedDim: a.embedDim * 2 ** (a.depths.length - 1),
    depth: a.depths.reduce((s, d) => s + d, 0),
    numHeads: a.numHeads[0]!,
    mlpRatio: a.mlpRatio,
    qkvBias: true,
    classToken: false,
    regTokens: 0,
    distToken: false,
    noEmbedClass: true,
    layerScale: false,
    globalPool: 'avg',
    fcNorm: false,
    normEps: 1e-5,
    act: 'gelu',
    preNorm: false,
    family: 'swin',
    mean: a.mean,
    std: a.std,
  };
}

/** createModel's path for Swin weights (called by create-model.ts once the name says Swin). */
export async function createSwinModel(
  o: ResolvedModelOptions,
  raw: CreateModelOptions,
  resolved: ResolvedWeights,
  checkpoint: Checkpoint,
  inferredArch: string | undefined,
): Promise<Model> {
  refuseSwinOptions(o, raw);
  const architecture = resolveSwinArchitecture({
    ...(o.arch ? { arch: o.arch } : inferredArch && !resolved.config ? { arch: inferredArch } : {}),
    ...(resolved.config ? { config: resolved.config } : {}),
    ...(resolved.configPath ? { configPath: resolved.configPath } : {}),
  });
  const imageSize = o.imageSize ?? architecture.imgSize;
  const device = o.device ?? (runtimeInfo().cudaAvailable ? 'cuda' : 'cpu');
  const { addon } = loadAddon();
  const Native = (addon as unknown as { NativeSwinModel?: new (c: NativeSwinModelConfig) => NativeModel })
    .NativeSwinModel;
  if (!Native) throw new VptError(ErrorCode.Native, 'this build of the native addon has no Swin model: rebuild it');
  const p = o.prompt;
  const native = await callNative(
    () =>
      new Native({
        swin: { ...architecture, imgSize: imageSize },
        prompt: p ? { tokens: p.tokens, deep: p.deep, dropout: p.dropout } : null,
        numClasses: o.numClasses,
        headHiddenLayers: o.mlpLayers,
        transfer: o.transfer as 'prompt' | 'linear' | 'full',
        device,
        seed: o.seed,
      }),
  );
  try {
    await callNative(() => native.loadBackbone(checkpoint.dataPath, checkpoint.entries));
  } catch (error) {
    native.dispose();
    if (error instanceof VptError && !error.message.startsWith(resolved.weightsPath)) {
      throw new VptError(error.code, `${resolved.weightsPath}: ${error.message}`, { cause: error });
    }
    throw error;
  }
  const vitShaped = swinModelArchitecture({ ...architecture, imgSize: imageSize });
  const model = new Model(native, {
    architecture: { ...vitShaped, ...resolveNormalization(o.normalize, vitShaped) },
    imageSize,
    numClasses: o.numClasses,
    transfer: o.transfer,
    prompt: o.prompt,
    mlpLayers: o.mlpLayers,
    classNames: o.classNames ?? null,
    precision: o.precision,
    backboneDtype: o.backboneDtype,
  });
  try {
    if (o.headBias !== 0 && !o.trainable) await setHeadBias(native, o.headBias);
    if (o.trainable) await model.loadTrainable(o.trainable);
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}
