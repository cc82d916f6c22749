/**
 * VPT's deep variants (prompts in the first / last k blocks, one shared set, rows dropped after
 * the prompted blocks), pool types and added prompts (location add / add-1) against KMnP/vpt's own prompted ViT
 * (test/fixtures/generate_deep_variants.py): logits within 1e-4, one SGD step within 1e-5, on
 * the block paths (fused / unfused add + LayerNorm, checkpointed blocks) with
 * skipDiscardedPromptRows on and off. Bad combinations are refused with the option named.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type CreateModelOptions, createModel, type HostTensor, readSafetensors, VptError } from '../../lib/index.js';
import { FIXTURES, maxAbsDiff, tempDir } from '../helpers/common.js';
import { loadGolden } from '../helpers/golden.js';

const LOGITS_TOLERANCE = 1e-4;
const ONE_STEP_TOLERANCE = 1e-5;
const DIR = join(FIXTURES, 'deep_variants');
const WEIGHTS = join(DIR, 'backbone', 'ViT-tiny.npz');
const NUM_CLASSES = 5;
const TOKENS = 3;
const shape = [4, 3, 32, 32] as const;

/** case -> prompt options (as in the generator's CASES). */
const CASES: Record<string, Record<string, unknown>> = {
  deep_k2: { deep: true, deepLayers: 2 },
  deep_k1: { deep: true, deepLayers: 1 },
  shared: { deep: true, deepShared: true },
  shared_k3: { deep: true, deepShared: true, deepLayers: 3 },
  noexpand_k2: { deep: true, deepLayers: 2, deepNoExpand: true },
  reverse_k2: { deep: true, deepLayers: 2, reverseDeep: true },
  img_pool: { pool: 'img_pool' },
  prompt_pool_deep: { deep: true, pool: 'prompt_pool' },
  imgprompt_pool_k3: { deep: true, deepLayers: 3, pool: 'imgprompt_pool' },
  img_pool_deep: { deep: true, pool: 'img_pool' },
  add: { location: 'add' },
  add_deep_k2: { location: 'add', deep: true, deepLayers: 2 },
  add1_deep: { location: 'add-1', deep: true },
  add1_reverse_k2: { location: 'add-1', deep: true, deepLayers: 2, reverseDeep: true },
};

/** Block paths, each with the kv-row schedule on or off; checkpointed blocks for the cases that change the stream's length. */
const PATHS: Array<{ name: string; opts: Partial<CreateModelOptions>; cases?: string[] }> = [
  { name: 'fused, skipDiscardedPromptRows', opts: { fusedLayerNorm: true, skipDiscardedPromptRows: true } },
  { name: 'unfused, every row', opts: { fusedLayerNorm: false, skipDiscardedPromptRows: false } },
  {
    name: 'checkpointed, skipDiscardedPromptRows',
    opts: { checkpointBlocks: true, skipDiscardedPromptRows: true },
    cases: ['deep_k2', 'noexpand_k2', 'reverse_k2', 'prompt_pool_deep', 'add_deep_k2', 'add1_reverse_k2'],
  },
];

let g: Map<string, HostTensor>;
let images: Float32Array;
let labels: Int32Array;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let saved = 0;

beforeAll(async () => {
  ({ g, images, labels } = await loadGolden(DIR));
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

function model(c: string, extra: Partial<CreateModelOptions> = {}) {
  return createModel({
    weights: WEIGHTS,
    numClasses: NUM_CLASSES,
    device: 'cpu',
    prompt: { tokens: TOKENS, ...CASES[c] },
    trainable: join(DIR, `${c}.safetensors`),
    ...extra,
  });
}

describe('deep variants and pool types match KMnP/vpt', () => {
  for (const c of Object.keys(CASES)) {
    for (const path of PATHS.filter((p) => !p.cases || p.cases.includes(c))) {
      it(`${c}: logits and one SGD step (${path.name})`, async () => {
        const m = await model(c, path.opts);
        try {
          const logits = await m.forward(images, shape);
          expect(maxAbsDiff(logits, g.get(`${c}.logits`)!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
          m.configureOptimizer({ optimizer: 'sgd', lr: 1, momentum: 0 });
          await m.trainStep(images, shape, labels);
          const file = join(tmp.dir, `${c}-${saved++}.safetensors`);
          await m.saveTrainable(file);
          const { tensors } = await readSafetensors(file);
          expect([...tensors.keys()].sort()).toEqual(
            [...g.keys()]
              .filter((k) => k.startsWith(`sgd1.${c}.`))
              .map((k) => k.slice(`sgd1.${c}.`.length))
              .sort(),
          );
          for (const [name, t] of tensors) {
            const expected = g.get(`sgd1.${c}.${name}`)!.data;
            expect(maxAbsDiff(t.data, expected), name).toBeLessThanOrEqual(ONE_STEP_TOLERANCE);
          }
        } finally {
          m.dispose();
        }
      });
    }
  }

  it('trainable tensors follow the variant: deep sets per prompted block, none when shared or for k = 1', async () => {
    const D = 32;
    const counts: Record<string, Record<string, number>> = {
      deep_k2: { prompt_embeddings: TOKENS * D, deep_prompt_embeddings: TOKENS * D },
      deep_k1: { prompt_embeddings: TOKENS * D },
      shared_k3: { prompt_embeddings: TOKENS * D },
      reverse_k2: { deep_prompt_embeddings: 2 * TOKENS * D },
      add: { prompt_embeddings: 17 * D },
      add1_deep: { prompt_embeddings: D, deep_prompt_embeddings: 3 * D },
    };
    for (const [c, expected] of Object.entries(counts)) {
      const m = await model(c);
      const head = D * NUM_CLASSES + NUM_CLASSES;
      const sum = Object.values(expected).reduce((a, b) => a + b, 0);
      expect(m.info().trainableParams, c).toBe(sum + head);
      m.dispose();
    }
  });
});

describe('bad deep-variant options', () => {
  const base = { weights: WEIGHTS, numClasses: NUM_CLASSES, device: 'cpu' } as const;
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a variant without deep', { tokens: 3, deepLayers: 2 }, /prompt\.deepLayers.*"deep": true/],
    ['reverse without k', { tokens: 3, deep: true, reverseDeep: true }, /prompt\.reverseDeep.*deepLayers/],
    ['reverse + shared', { tokens: 3, deep: true, deepLayers: 2, reverseDeep: true, deepShared: true }, /reverseDeep/],
    ['no-expand + shared', { tokens: 3, deep: true, deepNoExpand: true, deepShared: true }, /deepNoExpand/],
    ['no-expand + img_pool', { tokens: 3, deep: true, deepLayers: 2, deepNoExpand: true, pool: 'img_pool' }, /pool/],
    ['k above the depth', { tokens: 3, deep: true, deepLayers: 5 }, /prompt\.deepLayers.*4 blocks, got 5/],
    ['an unknown pool', { tokens: 3, pool: 'mean' }, /prompt\.pool/],
    ['added prompts pooled', { tokens: 3, location: 'add', pool: 'prompt_pool' }, /prompt\.location.*pool "original"/],
    ['a pixel location, deep', { tokens: 3, location: 'pad', deep: true }, /prompt\.location.*pixel-space/],
  ];
  for (const [name, prompt, message] of cases) {
    it(`refuses ${name}`, async () => {
      const error = await createModel({ ...base, prompt }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VptError);
      expect((error as VptError).code).toBe('VPT_OPTION');
      expect((error as Error).message).toMatch(message);
    });
  }

  it('a trainable state saved with another variant is refused, naming the field', async () => {
    const error = await createModel({
      ...base,
      prompt: { tokens: TOKENS, deep: true, deepLayers: 2, pool: 'img_pool' },
      trainable: join(DIR, 'deep_k2.safetensors'),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VptError);
    expect((error as Error).message).toMatch(/prompt\.pool="original".*prompt\.pool="img_pool"/);
  });
});
