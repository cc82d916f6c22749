/**
 * Resolving the `weights` option and naming the file in loading errors: a missing path that
 * looks like a path is "weights not found", not a failed hub download; a failed hub lookup says
 * no local file of that name exists either; native "do not fit" errors start with the weights
 * file; a Hugging Face transformers checkpoint is recognised and refused as such.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createModel, readSafetensors, writeSafetensors } from '../../lib/index.js';
import { looksLikeHubId, looksLikeLocalPath } from '../../lib/weights/hub.js';
import { readNpz } from '../../lib/weights/npz.js';
import { tempDir } from '../helpers/common.js';
import { npy, VARIANTS, zip } from '../helpers/weights.js';

const base = { numClasses: 5, device: 'cpu', prompt: null } as const;
const ENV = ['HF_HUB_OFFLINE', 'HF_HUB_CACHE', 'HF_ENDPOINT'] as const;

let tmp: Awaited<ReturnType<typeof tempDir>>;
const cwd = process.cwd();
const saved: Record<string, string | undefined> = {};
beforeAll(async () => {
  tmp = await tempDir();
  for (const k of ENV) saved[k] = process.env[k];
  // Nothing here may reach a real hub: offline, with an empty cache.
  process.env.HF_HUB_OFFLINE = '1';
  process.env.HF_HUB_CACHE = join(tmp.dir, 'empty-cache');
  process.env.HF_ENDPOINT = 'http://127.0.0.1:9';
  await mkdir(join(tmp.dir, 'models'));
});
afterEach(() => {
  process.chdir(cwd);
});
afterAll(async () => {
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await tmp.cleanup();
});

describe('a missing local path', () => {
  it('under an existing folder (a typo in models/vit_b16) is "weights not found: <absolute path>"', async () => {
    process.chdir(tmp.dir);
    await expect(createModel({ ...base, weights: 'models/vit_b16' })).rejects.toMatchObject({
      code: 'VPT_IO',
      message: `weights not found: ${join(tmp.dir, 'models', 'vit_b16')}`,
    });
  });

  it('ending in .safetensors or .npz, or starting with ./ ../ or /, is never a hub id', async () => {
    process.chdir(tmp.dir);
    for (const weights of [
      'org/model.safetensors',
      'org/ViT-B_16.npz',
      './org/model',
      '../org/model',
      join(tmp.dir, 'org', 'model'),
    ]) {
      expect(looksLikeLocalPath(weights), weights).toBe(true);
      expect(looksLikeHubId(weights), weights).toBe(false);
      await expect(createModel({ ...base, weights })).rejects.toMatchObject({
        code: 'VPT_IO',
        message: expect.stringMatching(/^weights not found: \//),
      });
    }
  });

  it('org/name without such a folder is still a hub id; its failed lookup says no local path exists either', async () => {
    process.chdir(tmp.dir);
    expect(looksLikeHubId('timm/vit_tiny_missing')).toBe(true);
    const error = await createModel({ ...base, weights: 'timm/vit_tiny_missing' }).catch(
      (e: unknown) => e as Error & { code: string },
    );
    expect(error.code).toBe('VPT_IO');
    expect(error.message).toContain('HF_HUB_OFFLINE');
    expect(error.message).toContain(
      `no local file or folder ${join(tmp.dir, 'timm', 'vit_tiny_missing')} exists either`,
    );
  });
});

describe('native loading errors name the weights file', () => {
  it('a .safetensors missing a tensor', async () => {
    const dir = join(tmp.dir, 'no-norm');
    await mkdir(dir);
    await copyFile(join(VARIANTS, 'base', 'config.json'), join(dir, 'config.json'));
    const { tensors } = await readSafetensors(join(VARIANTS, 'base', 'model.safetensors'));
    await writeSafetensors(
      join(dir, 'model.safetensors'),
      [...tensors.values()].filter((t) => t.name !== 'norm.bias'),
    );
    await expect(createModel({ ...base, weights: dir })).rejects.toMatchObject({
      code: 'VPT_WEIGHTS',
      message: expect.stringMatching(
        new RegExp(`^${join(dir, 'model.safetensors')}: the weights do not fit the model.*norm\\.bias`, 's'),
      ),
    });
  });

  it('a Google .npz missing an array', async () => {
    const dir = join(tmp.dir, 'npz-missing');
    await mkdir(dir);
    await copyFile(join(VARIANTS, 'google', 'config.json'), join(dir, 'config.json'));
    const path = join(dir, 'model.npz');
    const npz = await readNpz(join(VARIANTS, 'google', 'vit_jax.npz'));
    const bytes = await readFile(npz.dataPath);
    await npz.close();
    const kept = npz.entries.filter((e) => e.name !== 'Transformer/encoder_norm/bias');
    await writeFile(
      path,
      zip(
        kept.map((e) => ({ name: `${e.name}.npy`, data: npy(e.shape, bytes.subarray(e.offset, e.offset + e.nbytes)) })),
      ),
    );
    await expect(createModel({ ...base, weights: path })).rejects.toMatchObject({
      code: 'VPT_WEIGHTS',
      message: expect.stringMatching(
        new RegExp(
          `^${path}: the Google \\(vision_transformer layout\\) weights do not fit the model.*encoder_norm/bias`,
          's',
        ),
      ),
    });
  });
});

describe('Hugging Face transformers checkpoints', () => {
  /** A few tensors of a transformers ViTModel (names as transformers saves them). */
  async function transformersFolder(name: string, config: object | null, prefix = ''): Promise<string> {
    const dir = join(tmp.dir, name);
    await mkdir(dir);
    const t = (n: string, shape: number[]) => ({
      name: `${prefix}${n}`,
      shape,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
    });
    await writeSafetensors(join(dir, 'model.safetensors'), [
      t('embeddings.cls_token', [1, 1, 32]),
      t('embeddings.position_embeddings', [1, 17, 32]),
      t('embeddings.patch_embeddings.projection.weight', [32, 3, 8, 8]),
      t('encoder.layer.0.attention.attention.query.weight', [32, 32]),
      t('layernorm.weight', [32]),
    ]);
    if (config) await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    return dir;
  }

  it("a folder with transformers' config.json is refused as such, naming the class", async () => {
    const dir = await transformersFolder('hf-vit', {
      architectures: ['ViTModel'],
      model_type: 'vit',
      hidden_size: 32,
      image_size: 32,
      patch_size: 8,
    });
    await expect(createModel({ ...base, weights: dir })).rejects.toMatchObject({
      code: 'VPT_ARCH',
      message: expect.stringMatching(
        /config\.json is a Hugging Face transformers config \(ViTModel\), not a timm one: .*use timm's weights/,
      ),
    });
  });

  it('its model.safetensors alone (arch given) is refused from its tensor names', async () => {
    const dir = await transformersFolder('hf-vit-bare', null, 'vit.');
    await expect(
      createModel({ ...base, weights: join(dir, 'model.safetensors'), arch: 'vit_tiny_patch8_32' }),
    ).rejects.toMatchObject({
      code: 'VPT_ARCH',
      message: expect.stringMatching(
        /holds a Hugging Face transformers ViT \(tensors such as vit\.embeddings\.cls_token.*\), not timm's layout/,
      ),
    });
  });
});
