/**
 * `createModel`: validated options -> timm architecture -> native model with the backbone
 * loaded (and a trainable state, when given).
 */
import { loadAddon } from '../binding.js';
import { ErrorCode, VptError, callNative } from '../errors.js';
import { runtimeInfo } from '../runtime-info.js';
import { checkArchitectureAgainstWeights, resolveArchitecture } from '../weights/architecture.js';
import { resolveWeights } from '../weights/resolve-weights.js';
import { FLOAT_DTYPES, readSafetensorsHeader } from '../weights/safetensors.js';
import { Model } from './model.js';
import { type CreateModelOptions, resolveModelOptions } from './options.js';

/**
 * Creates a prompted ViT from timm weights (`.safetensors` + `config.json`, or a folder
 * holding both). The checkpoint's classifier is dropped; the task gets a new head.
 * @example
 * ```ts
 * import { createModel } from 'vpt-native';
 * const model = await createModel({
 *   weights: 'models/vit_base_patch16_224.augreg_in21k',   // model.safetensors + config.json
 *   numClasses: 200,
 *   prompt: { tokens: 10, deep: true },
 * });
 * const logits = await model.forward(images, [8, 3, 224, 224]);
 * model.dispose();
 * ```
 */
export async function createModel(options: CreateModelOptions): Promise<Model> {
  const o = resolveModelOptions(options);
  const resolved = await resolveWeights(o.weights);
  const architecture = resolveArchitecture({ arch: o.arch, config: resolved.config, configPath: resolved.configPath });
  const header = await readSafetensorsHeader(resolved.weightsPath);
  checkArchitectureAgainstWeights(architecture, header.entries, resolved.weightsPath);
  const imageSize = o.imageSize ?? architecture.imgSize;
  if (imageSize !== architecture.imgSize) {
    throw new VptError(
      ErrorCode.Option,
      `Invalid option "imageSize": ${imageSize} differs from the checkpoint's ${architecture.imgSize}; position-embedding resampling is not supported yet`,
    );
  }
  const nonFloat = header.entries.filter((e) => !FLOAT_DTYPES.has(e.dtype) && !e.name.startsWith('head.'));
  if (nonFloat.length > 0) {
    throw new VptError(ErrorCode.Weights, `${resolved.weightsPath}: tensors with non-float dtypes: ${nonFloat.map((e) => `${e.name} (${e.dtype})`).join(', ')}`);
  }
  const device = o.device ?? (runtimeInfo().cudaAvailable ? 'cuda' : 'cpu');
  const { addon } = loadAddon();
  const native = await callNative(
    () =>
      new addon.NativeModel({
        vit: { ...architecture, imgSize: imageSize },
        prompt: o.prompt,
        numClasses: o.numClasses,
        headHiddenLayers: o.mlpLayers,
        transfer: o.transfer,
        device,
        seed: o.seed,
        precision: o.precision,
      }),
  );
  const entries = header.entries.filter((e) => !e.name.startsWith('head.'));
  try {
    await callNative(() => native.loadBackbone(resolved.weightsPath, entries));
  } catch (error) {
    native.dispose();
    throw error;
  }
  const model = new Model(native, {
    architecture,
    imageSize,
    numClasses: o.numClasses,
    transfer: o.transfer,
    prompt: o.prompt,
    mlpLayers: o.mlpLayers,
    classNames: o.classNames ?? null,
    precision: o.precision,
  });
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
