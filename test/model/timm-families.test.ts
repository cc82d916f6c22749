/**
 * timm's ViT families, resolved from their registered names (lib/weights/timm-archs.ts), compute
 * as timm does: fixtures from test/fixtures/generate_timm_families.py (timm 1.0.29), each a
 * registered model (DINOv2 with and without registers, CLIP with GELU and QuickGELU, DeiT-III,
 * distilled DeiT, SigLIP's MAP head with GELU and tanh-GELU, EVA-02 with both MLP layouts)
 * shrunk to embed_dim 32, depth 3, 2 heads, its weights stored as F16. The config.json holds the tiny sizes only: LayerScale, registers, norm_pre, the activation, the
 * LayerNorm eps, the class token and the pooling come from the name. Features are timm's own
 * forward; prompted logits a reference forward on timm's modules; the SGD step autograd's.
 * Tolerance: max |diff| <= 1e-4 (logits), 1e-5 (one SGD step, as test/model/training.test.ts).
 */
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createModel, type HostTensor, type Model, readSafetensors, writeSafetensors } from '../../lib/index.js';
import { FIXTURES, maxAbsDiff, tempDir } from '../helpers/common.js';

const HERE = join(FIXTURES, 'timm_families');
const TOLERANCE = 1e-4;
const STEP_TOLERANCE = 1e-5;
const NUM_CLASSES = 5;

/** Case folder -> [what it exercises, image size it runs at, the size of its checkpoint's grid]. */
const CASES: Record<string, [string, number]> = {
  dinov2: ['vit_small_patch14_dinov2: patch 14, LayerScale', 28],
  dinov2_reg4: ['vit_small_patch14_reg4_dinov2: 4 registers, no_embed_class, pos_embed resampled 56 -> 42 px', 42],
  clip: ['vit_base_patch16_clip_224: norm_pre, LayerNorm eps 1e-5, CLIP mean / std', 32],
  clip_quickgelu: ['vit_base_patch16_clip_quickgelu_224: QuickGELU', 32],
  deit3: ['deit3_base_patch16_224: no_embed_class, LayerScale', 32],
  deit_distilled: ["deit_base_distilled_patch16_224: dist_token, the mean of the two tokens' outputs", 32],
  siglip: ['vit_base_patch16_siglip_224: no class token, MAP attention-pool head', 32],
  siglip_gelu_tanh: ['vit_base_patch32_siglip_256: MAP head, tanh-approximated GELU', 32],
  eva02: ['eva02_base_patch14_224: Eva q/k/v, SwiGLU + mlp.norm, rope on the patch tokens only (ref grid 16)', 32],
  eva02_tiny: ['eva02_tiny_patch14_224: Eva fused qkv + q/v bias, packed GluMlp, rope', 32],
};

let golden: Map<string, HostTensor>;
let labels: Int32Array;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  golden = (await readSafetensors(join(HERE, 'golden.safetensors'))).tensors;
  labels = Int32Array.from(golden.get('labels')!.data);
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

const expected = (key: string) => {
  const t = golden.get(key);
  if (!t) throw new Error(`golden tensor ${key} missing`);
  return t.data;
};

const open = (c: string, size: number, deep: boolean | null, extra: Record<string, unknown> = {}) =>
  createModel({
    weights: join(HERE, c),
    numClasses: NUM_CLASSES,
    device: 'cpu',
    imageSize: size,
    ...(deep === null
      ? { prompt: null }
      : { prompt: { tokens: 3, deep }, trainable: join(HERE, `vpt_${deep ? 'deep' : 'shallow'}.safetensors`) }),
    ...extra,
  });

async function trainedTensors(model: Model, name: string): Promise<Map<string, HostTensor>> {
  const path = join(tmp.dir, `${name}.safetensors`);
  await model.saveTrainable(path);
  return (await readSafetensors(path)).tensors;
}

describe('timm families match timm', () => {
  for (const [c, [what, size]] of Object.entries(CASES)) {
    const shape = [2, 3, size, size] as const;
    it(`${c} (${what}): features, shallow and deep prompts, one SGD step`, async () => {
      const images = expected(`images_${size}`);
      const plain = await open(c, size, null);
      const diffs: Record<string, number> = {
        features: maxAbsDiff(await plain.features(images, shape), expected(`${c}.features`)),
      };
      plain.dispose();
      for (const deep of [false, true]) {
        const name = deep ? 'deep' : 'shallow';
        for (const fusedLayerNorm of [true, false]) {
          const model = await open(c, size, deep, { fusedLayerNorm });
          diffs[`${name}${fusedLayerNorm ? '' : ' (unfused)'}`] = maxAbsDiff(
            await model.forward(images, shape),
            expected(`${c}.${name}.logits`),
          );
          model.dispose();
        }
      }
      for (const [name, diff] of Object.entries(diffs)) expect(diff, `${c} ${name}`).toBeLessThanOrEqual(TOLERANCE);

      for (const skipDiscardedPromptRows of [true, false]) {
        const model = await open(c, size, true, { skipDiscardedPromptRows });
        model.configureOptimizer({ optimizer: 'sgd', lr: 1, momentum: 0 });
        expect((await model.trainStep(images, shape, labels)).skipped).toBe(false);
        const tensors = await trainedTensors(model, `${c}-${skipDiscardedPromptRows}`);
        expect([...tensors.keys()].sort()).toEqual(
          ['deep_prompt_embeddings', 'head.bias', 'head.weight', 'prompt_embeddings'].sort(),
        );
        for (const [name, t] of tensors)
          expect(maxAbsDiff(t.data, expected(`${c}.sgd1.${name}`)), `${c} sgd1 ${name}`).toBeLessThanOrEqual(
            STEP_TOLERANCE,
          );
        model.dispose();
      }
    });
  }

  it('MAP pooling leaves the prompts out by default; poolPrompts: true pools them as well (SigLIP)', async () => {
    const images = expected('images_32');
    const shape = [2, 3, 32, 32] as const;
    // The fixture's prompts and head, recorded as trained with poolPrompts (a trainable state
    // remembers the option).
    const { metadata, tensors } = await readSafetensors(join(HERE, 'vpt_deep.safetensors'));
    const pooled = join(tmp.dir, 'vpt_deep_pool_prompts.safetensors');
    await writeSafetensors(pooled, [...tensors.values()], {
      ...metadata,
      vpt: JSON.stringify({ ...JSON.parse(metadata.vpt!), poolPrompts: true }),
    });
    for (const c of ['siglip', 'siglip_gelu_tanh']) {
      for (const skipDiscardedPromptRows of [true, false]) {
        const model = await open(c, 32, true, { poolPrompts: true, skipDiscardedPromptRows, trainable: pooled });
        const out = await model.forward(images, shape);
        model.dispose();
        expect(maxAbsDiff(out, expected(`${c}.deep_pool_prompts.logits`)), c).toBeLessThanOrEqual(TOLERANCE);
        expect(maxAbsDiff(out, expected(`${c}.deep.logits`)), `${c}: the option changes the pool`).toBeGreaterThan(
          1e-3,
        );
      }
    }
    // Loading it into a model pooled otherwise is refused; a saved state records the option.
    await expect(open('siglip', 32, null, { prompt: { tokens: 3, deep: true }, trainable: pooled })).rejects.toThrow(
      /poolPrompts=true\); this model has poolPrompts=false/,
    );
    const trained = await open('siglip', 32, true, { poolPrompts: true, trainable: pooled });
    const path = join(tmp.dir, 'pool-prompts.safetensors');
    await trained.saveTrainable(path);
    trained.dispose();
    await expect(
      createModel({
        weights: join(HERE, 'siglip'),
        numClasses: NUM_CLASSES,
        device: 'cpu',
        prompt: { tokens: 3, deep: true },
        trainable: path,
      }),
    ).rejects.toThrow(/was saved for another model \(poolPrompts=true\); this model has poolPrompts=false/);
  });

  it('activation checkpointing and a bf16 backbone run the new parts too (norm_pre, MAP head, dist token, rope)', async () => {
    const images = expected('images_32');
    const shape = [2, 3, 32, 32] as const;
    for (const c of ['clip_quickgelu', 'siglip', 'deit_distilled', 'eva02']) {
      const checkpointed = await open(c, 32, true, { checkpointBlocks: true });
      const out = await checkpointed.forward(images, shape);
      checkpointed.dispose();
      expect(maxAbsDiff(out, expected(`${c}.deep.logits`)), `${c} checkpointBlocks`).toBeLessThanOrEqual(TOLERANCE);
      const bf16 = await open(c, 32, true, { backboneDtype: 'bfloat16' });
      const low = await bf16.forward(images, shape);
      bf16.dispose();
      // bf16 weights and autocast: close to fp32, not equal.
      expect(maxAbsDiff(low, expected(`${c}.deep.logits`)), `${c} bf16 backbone`).toBeLessThanOrEqual(0.15);
    }
  });

  it("the architecture comes from the registered name: the fixtures' config.json has only the tiny sizes", async () => {
    const model = await open('siglip', 32, null);
    const info = model.info();
    model.dispose();
    expect(info).toMatchObject({ arch: 'vit_base_patch16_siglip_224' });
    const clip = await open('clip_quickgelu', 32, null);
    expect(clip.info().mean).toEqual([0.48145466, 0.4578275, 0.40821073]);
    clip.dispose();
  });

  /** A folder with `from`'s weights and its config.json, `architecture` replaced (and its global_pool dropped). */
  async function renamed(from: string, architecture: string, dir: string): Promise<string> {
    const { mkdir } = await import('node:fs/promises');
    const folder = join(tmp.dir, dir);
    await mkdir(folder, { recursive: true });
    await copyFile(join(HERE, from, 'model.safetensors'), join(folder, 'model.safetensors'));
    const config = JSON.parse(await readFile(join(HERE, from, 'config.json'), 'utf8')) as Record<string, unknown>;
    const { global_pool: _pool, ...rest } = config;
    await writeFile(join(folder, 'config.json'), JSON.stringify({ ...rest, architecture }));
    return folder;
  }

  it('the name decides the computation: QuickGELU weights read as GELU CLIP give other features', async () => {
    const images = expected('images_32');
    const weights = await renamed('clip_quickgelu', 'vit_base_patch16_clip_224', 'as-gelu');
    const model = await createModel({ weights, numClasses: NUM_CLASSES, device: 'cpu', prompt: null });
    const features = await model.features(images, [2, 3, 32, 32]);
    model.dispose();
    expect(maxAbsDiff(features, expected('clip_quickgelu.features'))).toBeGreaterThan(1e-3);
  });

  it('an EVA-02 checkpoint that stores its rotary table (rope.*) loads: the table is recomputed', async () => {
    const { metadata, tensors } = await readSafetensors(join(HERE, 'eva02', 'model.safetensors'));
    const { mkdir } = await import('node:fs/promises');
    const folder = join(tmp.dir, 'eva02-rope');
    await mkdir(folder, { recursive: true });
    const table = { name: 'rope.pos_embed', shape: [16, 32], data: new Float32Array(16 * 32).fill(7) };
    await writeSafetensors(join(folder, 'model.safetensors'), [...tensors.values(), table], metadata);
    await copyFile(join(HERE, 'eva02', 'config.json'), join(folder, 'config.json'));
    const model = await createModel({ weights: folder, numClasses: NUM_CLASSES, device: 'cpu', prompt: null });
    const features = await model.features(expected('images_32'), [2, 3, 32, 32]);
    model.dispose();
    expect(maxAbsDiff(features, expected('eva02.features'))).toBeLessThanOrEqual(TOLERANCE);
  });

  it("another family's checkpoint: the error lists what is missing and what is left over", async () => {
    // SigLIP weights under a CLIP name: the class token is checked first, by the shapes.
    await expect(
      createModel({ weights: await renamed('siglip', 'vit_base_patch16_clip_224', 'siglip-as-clip'), numClasses: 5 }),
    ).rejects.toThrow(/does not hold a vit_base_patch16_clip_224: .*class_token=false .*class_token=true/);
    // CLIP weights under a plain ViT name: norm_pre is left over, the patch bias missing.
    await expect(
      createModel({
        weights: await renamed('clip', 'vit_base_patch16_224', 'clip-as-vit'),
        numClasses: 5,
        device: 'cpu',
      }),
    ).rejects.toThrow(
      /missing \(1\): patch_embed\.proj\.bias[\s\S]*unexpected \(2\): norm_pre\.bias, norm_pre\.weight/,
    );
    // SigLIP weights under SigLIP's average-pooling name: attn_pool.* is left over.
    await expect(
      createModel({
        weights: await renamed('siglip', 'vit_base_patch16_siglip_gap_224', 'siglip-as-gap'),
        numClasses: 5,
        device: 'cpu',
      }),
    ).rejects.toThrow(/unexpected \(13\): attn_pool\.kv\.bias/);
  });
});
