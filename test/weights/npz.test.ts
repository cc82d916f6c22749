/**
 * Google `.npz` checkpoints: the fixtures (test/fixtures/generate_variants.py) hold the `base`
 * variant's weights in Google's layouts, each proven by timm's own `_load_weights` there; here
 * they must give timm's outputs (max |diff| <= 1e-4) and the same logits as the `.safetensors`
 * of the same weights.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createModel, type HostTensor, readSafetensors } from '../../lib/index.js';
import { archFromGoogleFileName } from '../../lib/weights/google-checkpoint.js';
import { readNpz } from '../../lib/weights/npz.js';
import { maxAbsDiff, randomFloats, tempDir } from '../helpers/common.js';
import { VARIANTS, writeNpz } from '../helpers/weights.js';

const TOLERANCE = 1e-4;
const NUM_CLASSES = 5;
const GOOGLE = join(VARIANTS, 'google');
const shape = [2, 3, 32, 32] as const;

let golden: Map<string, HostTensor>;
let images: Float32Array;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  golden = (await readSafetensors(join(VARIANTS, 'golden.safetensors'))).tensors;
  images = golden.get('images')!.data;
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

async function outputs(weights: string) {
  const plain = await createModel({ weights, numClasses: NUM_CLASSES, prompt: null, device: 'cpu' });
  const features = await plain.features(images, shape);
  plain.dispose();
  const deep = await createModel({
    weights,
    numClasses: NUM_CLASSES,
    device: 'cpu',
    prompt: { tokens: 3, deep: true },
    trainable: join(VARIANTS, 'vpt_deep.safetensors'),
  });
  const logits = await deep.forward(images, shape);
  deep.dispose();
  return { features, logits };
}

describe('Google .npz checkpoints', () => {
  const files = [
    { file: 'vit_jax.npz', what: 'vision_transformer layout, no prefix, head/ and pre_logits/ ignored' },
    { file: 'opt_target.npz', what: 'vision_transformer layout under opt/target/' },
    { file: 'big_vision.npz', what: 'big_vision layout under params/, compressed (np.savez_compressed)' },
  ];
  for (const f of files) {
    it(`${f.file} (${f.what}) matches timm and the .safetensors of the same weights`, async () => {
      const npz = await outputs(join(GOOGLE, f.file));
      const safetensors = await outputs(join(VARIANTS, 'base'));
      expect(maxAbsDiff(npz.features, golden.get('base.features')!.data)).toBeLessThanOrEqual(TOLERANCE);
      expect(maxAbsDiff(npz.logits, golden.get('base.deep.logits')!.data)).toBeLessThanOrEqual(TOLERANCE);
      // The layout conversion is exact: the same weights give the same numbers.
      expect(maxAbsDiff(npz.features, safetensors.features)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(npz.logits, safetensors.logits)).toBeLessThanOrEqual(1e-6);
    });
  }

  it('reads stored arrays in place and inflates compressed ones to a temporary file it removes', async () => {
    const stored = await readNpz(join(GOOGLE, 'vit_jax.npz'));
    expect(stored.dataPath).toBe(join(GOOGLE, 'vit_jax.npz'));
    expect(stored.entries.find((e) => e.name === 'embedding/kernel')).toMatchObject({
      dtype: 'F32',
      shape: [8, 8, 3, 32],
      nbytes: 8 * 8 * 3 * 32 * 4,
    });
    await stored.close();
    const compressed = await readNpz(join(GOOGLE, 'big_vision.npz'));
    expect(compressed.dataPath).not.toBe(join(GOOGLE, 'big_vision.npz'));
    const bytes = await readFile(compressed.dataPath);
    expect(bytes.length).toBe(compressed.entries.reduce((n, e) => n + e.nbytes, 0));
    await compressed.close();
    await expect(readFile(compressed.dataPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('architecture from a Google file name', () => {
  it('reads the size letter and patch from the name and the image size from the grid', () => {
    const b16 = { posTokens: 197, classToken: true };
    expect(archFromGoogleFileName('imagenet21k/ViT-B_16.npz', b16)).toBe('vit_base_patch16_224');
    expect(archFromGoogleFileName('imagenet21k_ViT-B_16.npz', b16)).toBe('vit_base_patch16_224');
    expect(archFromGoogleFileName('ViT-L_32.npz', { posTokens: 145, classToken: true })).toBe('vit_large_patch32_384');
    expect(archFromGoogleFileName('Ti_16-i21k-300ep-lr_0.001-aug_none-wd_0.03-do_0.0-sd_0.0.npz', b16)).toBe(
      'vit_tiny_patch16_224',
    );
    expect(
      archFromGoogleFileName(
        'S_32-i21k-300ep-lr_0.001-aug_light1-wd_0.03-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_384.npz',
        { posTokens: 145, classToken: true },
      ),
    ).toBe('vit_small_patch32_384');
    expect(archFromGoogleFileName('R50+ViT-B_16.npz', b16)).toBeUndefined();
    expect(archFromGoogleFileName('R26_S_32-i21k-300ep.npz', b16)).toBeUndefined();
    expect(archFromGoogleFileName('checkpoint.npz', b16)).toBeUndefined();
  });

  it('a ViT-Ti_16.npz without config.json loads as vit_tiny_patch16_<grid x 16>, at its own size or resampled', async () => {
    // Google layout, vit_tiny sizes (D=192, 12 blocks, 3 heads), a 2 x 2 grid: 32 px.
    const D = 192,
      H = 3,
      hd = 64,
      M = 768,
      p = 16;
    const arrays: Array<{ name: string; shape: number[]; data: Float32Array }> = [];
    let seed = 11;
    const add = (name: string, s: number[], scale = 0.02) =>
      arrays.push({
        name,
        shape: s,
        data: randomFloats(
          s.reduce((a, b) => a * b, 1),
          seed++,
          scale,
        ),
      });
    add('embedding/kernel', [p, p, 3, D]);
    add('embedding/bias', [D]);
    add('cls', [1, 1, D]);
    add('Transformer/posembed_input/pos_embedding', [1, 5, D]);
    for (let i = 0; i < 12; i++) {
      const g = `Transformer/encoderblock_${i}/`;
      const a = `${g}MultiHeadDotProductAttention_1/`;
      for (const ln of ['LayerNorm_0', 'LayerNorm_2']) {
        add(`${g}${ln}/scale`, [D], 1);
        add(`${g}${ln}/bias`, [D]);
      }
      for (const n of ['query', 'key', 'value']) {
        add(`${a}${n}/kernel`, [D, H, hd]);
        add(`${a}${n}/bias`, [H, hd]);
      }
      add(`${a}out/kernel`, [H, hd, D]);
      add(`${a}out/bias`, [D]);
      add(`${g}MlpBlock_3/Dense_0/kernel`, [D, M]);
      add(`${g}MlpBlock_3/Dense_0/bias`, [M]);
      add(`${g}MlpBlock_3/Dense_1/kernel`, [M, D]);
      add(`${g}MlpBlock_3/Dense_1/bias`, [D]);
    }
    add('Transformer/encoder_norm/scale', [D], 1);
    add('Transformer/encoder_norm/bias', [D]);
    const dir = join(tmp.dir, 'google');
    await mkdir(dir);
    const path = join(dir, 'ViT-Ti_16.npz');
    await writeNpz(path, arrays);

    const model = await createModel({ weights: path, numClasses: 3, prompt: { tokens: 2, deep: true }, device: 'cpu' });
    expect(model.info()).toMatchObject({
      arch: 'vit_tiny_patch16_32',
      embedDim: 192,
      depth: 12,
      heads: 3,
      patchSize: 16,
      imageSize: 32,
    });
    const logits = await model.forward(randomFloats(3 * 32 * 32, 5), [1, 3, 32, 32]);
    expect(logits.every(Number.isFinite)).toBe(true);
    model.dispose();

    const larger = await createModel({ weights: path, numClasses: 3, device: 'cpu', imageSize: 64 });
    expect(larger.info().imageSize).toBe(64);
    expect((await larger.forward(randomFloats(3 * 64 * 64, 6), [1, 3, 64, 64])).every(Number.isFinite)).toBe(true);
    larger.dispose();

    await expect(
      createModel({ weights: path, numClasses: 3, device: 'cpu', arch: 'vit_small_patch16_224' }),
    ).rejects.toMatchObject({
      code: 'VPT_ARCH',
      message: expect.stringMatching(/embed_dim=192.*num_heads=3.*embed_dim=384.*num_heads=6/),
    });
  });
});
