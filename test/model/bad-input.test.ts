/** Bad input is rejected with a clear error and a stable code, never a crash. */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createModel, readSafetensors, writeSafetensors } from '../../lib/index.js';
import { FIXTURES, TINY_NUM_CLASSES, TINY_VIT, tempDir } from '../helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

/** A copy of the tiny ViT with its tensors passed through `edit`. */
async function editedVit(
  name: string,
  edit: (t: Awaited<ReturnType<typeof readSafetensors>>['tensors']) => void,
): Promise<string> {
  const dir = join(tmp.dir, name);
  await mkdir(dir);
  const { tensors } = await readSafetensors(join(TINY_VIT, 'model.safetensors'));
  edit(tensors);
  await writeSafetensors(join(dir, 'model.safetensors'), [...tensors.values()]);
  await copyFile(join(TINY_VIT, 'config.json'), join(dir, 'config.json'));
  return dir;
}

const base = { numClasses: TINY_NUM_CLASSES, device: 'cpu' } as const;

describe('bad input', () => {
  it('missing weights file', async () => {
    await expect(createModel({ ...base, weights: join(tmp.dir, 'nope.safetensors') })).rejects.toMatchObject({
      code: 'VPT_IO',
      message: expect.stringContaining('nope.safetensors'),
    });
  });

  it('a missing tensor is named', async () => {
    const dir = await editedVit('missing', (t) => t.delete('blocks.1.attn.proj.weight'));
    await expect(createModel({ ...base, weights: dir })).rejects.toMatchObject({
      code: 'VPT_WEIGHTS',
      message: expect.stringMatching(/missing \(1\): blocks\.1\.attn\.proj\.weight/),
    });
  });

  it('missing, mis-shaped and unexpected tensors are all listed in one error', async () => {
    const dir = await editedVit('several', (t) => {
      t.delete('blocks.0.norm1.bias');
      const w = t.get('blocks.2.mlp.fc1.bias')!;
      t.set(w.name, { ...w, shape: [128], data: w.data.subarray(0, 128) });
      t.set('extra.thing', { name: 'extra.thing', shape: [2], data: new Float32Array(2) });
    });
    const error = await createModel({ ...base, weights: dir }).catch((e: unknown) => e as Error & { code: string });
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('VPT_WEIGHTS');
    expect(error.message).toContain('missing (1): blocks.0.norm1.bias');
    expect(error.message).toContain('wrong shape (1): blocks.2.mlp.fc1.bias [128] (model needs [256])');
    expect(error.message).toContain('unexpected (1): extra.thing');
    expect(error.stack).toContain('bad-input.test.ts'); // the caller's stack, not a native one
    expect(error.stack).not.toMatch(/c10::|frame #/);
  });

  it('wrong arch for the weights', async () => {
    await expect(
      createModel({ ...base, weights: join(TINY_VIT, 'model.safetensors'), arch: 'vit_small_patch16_224' }),
    ).rejects.toMatchObject({
      code: 'VPT_ARCH',
      message: expect.stringContaining('contradicts'),
    });
    const bare = join(tmp.dir, 'bare');
    await mkdir(bare);
    await copyFile(join(TINY_VIT, 'model.safetensors'), join(bare, 'model.safetensors'));
    await expect(createModel({ ...base, weights: bare, arch: 'vit_small_patch16_224' })).rejects.toMatchObject({
      code: 'VPT_ARCH',
      message: expect.stringMatching(/embed_dim=64.*embed_dim=384/),
    });
    await expect(createModel({ ...base, weights: bare })).rejects.toMatchObject({
      code: 'VPT_ARCH',
      message: expect.stringContaining('"arch"'),
    });
    await expect(createModel({ ...base, weights: bare, arch: 'resnet50' })).rejects.toMatchObject({
      code: 'VPT_ARCH',
      message: expect.stringContaining('unknown architecture "resnet50"'),
    });
  });

  it('a trainable-state file for another model', async () => {
    await expect(
      createModel({
        ...base,
        weights: TINY_VIT,
        prompt: { tokens: 5 },
        trainable: join(FIXTURES, 'vpt_deep.safetensors'),
      }),
    ).rejects.toMatchObject({
      code: 'VPT_SHAPE',
      message: expect.stringMatching(/prompt\.deep=true.*prompt\.deep=false/),
    });
    await expect(
      createModel({
        ...base,
        numClasses: 9,
        weights: TINY_VIT,
        prompt: { tokens: 5 },
        trainable: join(FIXTURES, 'vpt_shallow.safetensors'),
      }),
    ).rejects.toMatchObject({
      code: 'VPT_SHAPE',
      message: expect.stringMatching(/numClasses=7.*numClasses=9/),
    });
    await expect(
      createModel({ ...base, weights: TINY_VIT, trainable: join(TINY_VIT, 'model.safetensors') }),
    ).rejects.toMatchObject({
      code: 'VPT_SHAPE',
      message: expect.stringContaining('not a vpt-native trainable-state file'),
    });
  });

  it('a trainable-state file whose tensors do not match its metadata is caught natively', async () => {
    const { tensors, metadata } = await readSafetensors(join(FIXTURES, 'vpt_shallow.safetensors'));
    const p = tensors.get('prompt_embeddings')!;
    tensors.set(p.name, { ...p, shape: [1, 4, 64], data: p.data.subarray(0, 256) });
    const path = join(tmp.dir, 'lying.safetensors');
    await writeSafetensors(path, [...tensors.values()], metadata);
    await expect(
      createModel({ ...base, weights: TINY_VIT, prompt: { tokens: 5 }, trainable: path }),
    ).rejects.toMatchObject({
      code: 'VPT_SHAPE',
      message: expect.stringContaining('prompt_embeddings [1, 4, 64] (model needs [1, 5, 64])'),
    });
  });

  it('options are validated with messages that name the option', async () => {
    await expect(createModel({ ...base, weights: TINY_VIT, prompt: { tokens: 0 } })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('"prompt.tokens"'),
    });
    await expect(createModel({ ...base, weights: TINY_VIT, device: 'tpu' })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('"device"'),
    });
    await expect(createModel({ ...base, weights: TINY_VIT, numClases: 3 } as never)).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('did you mean "numClasses"'),
    });
    await expect(
      createModel({ ...base, weights: TINY_VIT, transfer: 'linear', prompt: { tokens: 5 } }),
    ).rejects.toMatchObject({ code: 'VPT_OPTION', message: expect.stringContaining('"prompt"') });
    await expect(createModel({ ...base, weights: TINY_VIT, imageSize: 60 })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('"imageSize"'),
    });
  });

  it('an unavailable device', async () => {
    await expect(createModel({ ...base, weights: TINY_VIT, device: 'cuda:7' })).rejects.toMatchObject({
      code: 'VPT_DEVICE',
    });
  });

  it('a malformed config.json is named', async () => {
    const dir = join(tmp.dir, 'badconfig');
    await mkdir(dir);
    await copyFile(join(TINY_VIT, 'model.safetensors'), join(dir, 'model.safetensors'));
    await writeFile(join(dir, 'config.json'), '{ not json');
    await expect(createModel({ ...base, weights: dir })).rejects.toMatchObject({
      code: 'VPT_ARCH',
      message: expect.stringContaining('config.json is not valid JSON'),
    });
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({
        architecture: 'vit_tiny_patch16_224',
        model_args: { embed_dim: 64, depth: 3, num_heads: 4, patch_size: 8, img_size: 32, weird_thing: 1 },
      }),
    );
    await expect(createModel({ ...base, weights: dir })).rejects.toMatchObject({
      code: 'VPT_ARCH',
      message: expect.stringContaining('model_args.weird_thing'),
    });
  });

  it('wrong image shapes and disposed models', async () => {
    const model = await createModel({ ...base, weights: TINY_VIT });
    await expect(model.forward(new Float32Array(3 * 32 * 32), [1, 3, 64, 64])).rejects.toMatchObject({
      code: 'VPT_SHAPE',
    });
    await expect(model.forward(new Float32Array(10), [1, 3, 32, 32])).rejects.toMatchObject({ code: 'VPT_SHAPE' });
    model.dispose();
    await expect(model.forward(new Float32Array(3 * 32 * 32), [1, 3, 32, 32])).rejects.toMatchObject({
      code: 'VPT_DISPOSED',
    });
    expect(() => model.info()).toThrow(expect.objectContaining({ code: 'VPT_DISPOSED' }));
  });

  it('a failed save leaves the existing file intact', async () => {
    const model = await createModel({ ...base, weights: TINY_VIT });
    const path = join(tmp.dir, 'keep.safetensors');
    await model.saveTrainable(path);
    const before = await readSafetensors(path);
    await expect(model.saveTrainable(join(tmp.dir, 'no-such-dir', 'x.safetensors'))).rejects.toMatchObject({
      code: 'VPT_IO',
    });
    expect((await readSafetensors(path)).tensors.size).toBe(before.tensors.size);
    model.dispose();
  });
});
