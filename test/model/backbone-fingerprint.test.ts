import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { writeRandomBackbone } from '../../lib/demo/random-backbone.js';
import { createModel, type Model, readSafetensors } from '../../lib/index.js';
import { MultiTaskModel } from '../../lib/model/multi-task-model.js';
import { TINY_NUM_CLASSES, TINY_VIT, tempDir } from '../helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
const open: Model[] = [];
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  for (const m of open) m.dispose();
  await tmp.cleanup();
});

async function model(weights: string, extra: Record<string, unknown> = {}): Promise<Model> {
  const m = await createModel({
    weights,
    numClasses: TINY_NUM_CLASSES,
    prompt: { tokens: 2, deep: true },
    device: 'cpu',
    ...extra,
  });
  open.push(m);
  return m;
}

/** FNV-1a 64 over bytes, continuing from `h`. */
function fnv1a(h: bigint, bytes: Uint8Array): bigint {
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h;
}

/** float32 -> bfloat16 bits, round to nearest even (as at::Tensor.to(kBFloat16)). */
function bf16Bytes(values: Float32Array): Uint8Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) out[i] = (bits[i]! + 0x7fff + ((bits[i]! >>> 16) & 1)) >>> 16;
  return new Uint8Array(out.buffer);
}

describe('backbone fingerprint', () => {
  it('a saved state records arch, shapes and a hash of the bfloat16-rounded weights', async () => {
    const m = await model(TINY_VIT);
    const path = join(tmp.dir, 'a.safetensors');
    await m.saveTrainable(path);
    const backbone = JSON.parse((await readSafetensors(path)).metadata.vpt!).backbone;
    const tensors = (await m.backboneTensors()).sort((a, b) => (a.name < b.name ? -1 : 1));
    let shapes = 0xcbf29ce484222325n;
    let weights = 0xcbf29ce484222325n;
    for (const t of tensors) {
      const line = `${t.name}${t.shape.map((d, i) => (i === 0 ? ':' : 'x') + d).join('')};`;
      shapes = fnv1a(shapes, new TextEncoder().encode(line));
      weights = fnv1a(weights, bf16Bytes(t.data));
    }
    expect(backbone).toEqual({
      arch: 'vit_tiny_patch16_224.vpt_native_fixture',
      shapes: shapes.toString(16).padStart(16, '0'),
      weights: weights.toString(16).padStart(16, '0'),
      params: tensors.reduce((n, t) => n + t.data.length, 0),
    });
    // A bfloat16-stored copy of the same backbone is the same backbone.
    const bf16 = await model(TINY_VIT, { backboneDtype: 'bfloat16' });
    await expect(bf16.loadTrainable(path)).resolves.toBeUndefined();
  });

  it('refuses a state on another backbone of the same architecture, by name', async () => {
    const path = join(tmp.dir, 'b.safetensors');
    await (await model(TINY_VIT)).saveTrainable(path);
    const other = await writeRandomBackbone(join(tmp.dir, 'other'), {
      embedDim: 64,
      depth: 3,
      numHeads: 4,
      patchSize: 8,
      imgSize: 32,
      seed: 9,
    });
    const m = await model(other);
    await expect(m.loadTrainable(path)).rejects.toMatchObject({
      code: 'VPT_BACKBONE',
      message: expect.stringMatching(
        /b\.safetensors was trained on another backbone: vit_tiny_patch16_224\.vpt_native_fixture .*same architecture, other weights/,
      ),
    });
    const multi = await MultiTaskModel.create({ weights: other, device: 'cpu' });
    try {
      await expect(multi.addTask('b', path)).rejects.toMatchObject({ code: 'VPT_BACKBONE' });
    } finally {
      multi.dispose();
    }
  });

  it('refuses a task built for another architecture', async () => {
    const path = join(tmp.dir, 'c.safetensors');
    await (await model(TINY_VIT)).saveTrainable(path);
    const deeper = await writeRandomBackbone(join(tmp.dir, 'deeper'), {
      embedDim: 64,
      depth: 4,
      numHeads: 4,
      patchSize: 8,
      imgSize: 32,
      seed: 1,
    });
    const multi = await MultiTaskModel.create({ weights: deeper, device: 'cpu' });
    try {
      await expect(multi.addTask('c', path)).rejects.toMatchObject({
        code: 'VPT_BACKBONE',
        message: expect.stringContaining('c.safetensors was trained for another architecture'),
      });
    } finally {
      multi.dispose();
    }
  });
});
