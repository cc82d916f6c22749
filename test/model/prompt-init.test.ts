/**
 * VPT's prompt initiations from class-token embeddings (INITIATION final-cls / cls-nolastl /
 * cls-nofirstl with CLSEMB_PATH) against KMnP/vpt's own module (fixtures from
 * test/fixtures/generate_deep_variants.py): the prompts equal KMnP's exactly; the layerwise class
 * tokens such a file aggregates match KMnP's forward_cls_layerwise within 1e-4; and
 * `computeClsEmbeddings` writes the per-class means of those.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  computeClsEmbeddings,
  createModel,
  type HostTensor,
  readNpy,
  readSafetensors,
  VptError,
  writeNpy,
} from '../../lib/index.js';
import { FIXTURES, maxAbsDiff, syntheticTask, tempDir } from '../helpers/common.js';

const DIR = join(FIXTURES, 'deep_variants');
const WEIGHTS = join(DIR, 'backbone', 'ViT-tiny.npz');
const CLSEMB = join(DIR, 'clsemb.npy');

let g: Map<string, HostTensor>;
let tmp: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  g = (await readSafetensors(join(DIR, 'golden.safetensors'))).tensors;
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

const base = { weights: WEIGHTS, numClasses: 5, device: 'cpu' } as const;

describe('prompt init from CLS embeddings', () => {
  for (const init of ['final-cls', 'cls-nolastl', 'cls-nofirstl'] as const) {
    for (const deep of [false, true]) {
      it(`${init}, ${deep ? 'deep' : 'shallow'}: the prompts KMnP/vpt makes of the file`, async () => {
        const model = await createModel({ ...base, prompt: { tokens: 3, deep, init, clsEmbeddings: CLSEMB } });
        try {
          const file = join(tmp.dir, `${init}-${deep}.safetensors`);
          await model.saveTrainable(file);
          const { tensors } = await readSafetensors(file);
          const names = ['prompt_embeddings', ...(deep ? ['deep_prompt_embeddings'] : [])];
          for (const name of names) {
            const expected = g.get(`init.${init}.${deep ? 'deep' : 'shallow'}.${name}`)!;
            expect(tensors.get(name)!.shape, name).toEqual(expected.shape);
            expect(maxAbsDiff(tensors.get(name)!.data, expected.data), name).toBe(0);
          }
        } finally {
          model.dispose();
        }
      });
    }
  }

  it('refuses a file of the wrong shape and inits without their file, naming the option', async () => {
    const wrong = await createModel({
      ...base,
      prompt: { tokens: 4, init: 'final-cls', clsEmbeddings: CLSEMB },
    }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(VptError);
    expect((wrong as Error).message).toMatch(/prompt\.clsEmbeddings.*\[3, 5, 32\].*needs \[4, 5, 32\]/);
    const missing = await createModel({ ...base, prompt: { tokens: 3, init: 'cls-nolastl' } }).catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/prompt\.clsEmbeddings/);
    const projected = await createModel({
      ...base,
      prompt: { tokens: 3, init: 'final-cls', clsEmbeddings: CLSEMB, project: 8 },
    }).catch((e: unknown) => e);
    expect((projected as Error).message).toMatch(/prompt\.init/);
  });
});

describe('CLS embeddings', () => {
  it('the layerwise class tokens match KMnP/vpt forward_cls_layerwise', async () => {
    const model = await createModel({ ...base, transfer: 'linear' });
    try {
      const cls = await model.clsLayerwise({ pixels: g.get('images')!.data, shape: [4, 3, 32, 32] });
      expect(maxAbsDiff(cls, g.get('cls_layerwise')!.data)).toBeLessThanOrEqual(1e-4);
    } finally {
      model.dispose();
    }
  });

  it('computeClsEmbeddings writes per-class means that a CLS init reads', async () => {
    const { data } = await syntheticTask(
      tmp.dir,
      { classes: 3, imagesPerClass: 5, imageSize: 40, seed: 4 },
      { embedDim: 32, depth: 4, numHeads: 2, patchSize: 8, imgSize: 32, seed: 2 },
    );
    const out = join(tmp.dir, 'cls.npy');
    const r = await computeClsEmbeddings({ data, weights: WEIGHTS, out, batchSize: 4 });
    expect(r.shape).toEqual([3, 5, 32]);
    const written = await readNpy(out);
    expect(written.shape).toEqual([3, 5, 32]);
    // By hand: the mean of each class's layerwise class tokens, images one at a time.
    const { openDataset } = await import('../../lib/data/dataset.js');
    const { Loader } = await import('../../lib/data/loader.js');
    const train = (await openDataset(data)).splits.train!;
    const model = await createModel({ ...base, transfer: 'linear' });
    const loader = new Loader(train, { batchSize: 1, train: false, cropSize: 32, shuffle: false });
    const sums = new Float64Array(3 * 5 * 32);
    const counts = [0, 0, 0];
    try {
      for await (const b of loader.epoch(0)) {
        const cls = await model.clsLayerwise(b.images);
        const y = b.labels[0]!;
        counts[y]!++;
        for (let k = 0; k < 160; k++) sums[y * 160 + k]! += cls[k]!;
      }
    } finally {
      model.dispose();
      await loader.close();
    }
    expect(r.counts).toEqual(counts);
    const expected = Float32Array.from(sums, (s, k) => s / counts[Math.floor(k / 160)]!);
    expect(maxAbsDiff(written.data, expected)).toBeLessThanOrEqual(1e-5);
    // 3 classes -> 3 prompt tokens.
    const m = await createModel({
      ...base,
      prompt: { tokens: 3, deep: true, init: 'cls-nofirstl', clsEmbeddings: out },
    });
    m.dispose();
  });

  it('writeNpy / readNpy round-trip', async () => {
    const path = join(tmp.dir, 'x.npy');
    const data = Float32Array.from({ length: 24 }, (_, i) => i / 7);
    await writeNpy(path, [2, 3, 4], data);
    expect(await readNpy(path)).toEqual({ shape: [2, 3, 4], data });
  });
});
