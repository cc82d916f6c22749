/**
 * The multi-task forward computes each timm family as its single-task forward does: CLIP's
 * norm_pre and QuickGELU, distilled DeiT's two tokens, SigLIP's MAP head (no class token) and
 * EVA-02's rope + SwiGLU, on the tiny fixtures of test/fixtures/timm_families. Tolerance 1e-5.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Model } from '../../lib/index.js';
import { MultiTaskModel } from '../../lib/model/multi-task-model.js';
import { FIXTURES, maxAbsDiff, randomFloats, TINY_VIT, tempDir } from '../helpers/common.js';
import { type TaskSpec, writeTaskStates } from '../helpers/tasks.js';

const N = 3;
const SPECS: TaskSpec[] = [
  { name: 'deep', prompt: { tokens: 3, deep: true }, numClasses: 5, seed: 1 },
  { name: 'shallow', prompt: { tokens: 2 }, numClasses: 4, seed: 2 },
  { name: 'linear', prompt: null, numClasses: 3, seed: 3 },
];

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('MultiTaskModel on timm families', () => {
  for (const [family, S] of [
    ['clip_quickgelu', 32],
    ['deit_distilled', 32],
    ['siglip', 32],
    ['eva02', 32],
    ['dinov2_reg4', 42],
  ] as const) {
    const images = randomFloats(N * 3 * S * S, 11);
    const shape = [N, 3, S, S] as const;
    it(`${family}: a mixed batch equals each task's own forward within 1e-5`, async () => {
      const weights = join(FIXTURES, 'timm_families', family);
      const dir = join(tmp.dir, family);
      const { mkdir } = await import('node:fs/promises');
      await mkdir(dir);
      const tasks = await writeTaskStates(weights, dir, SPECS, { imageSize: S });
      const multi = await MultiTaskModel.create({ weights, device: 'cpu', imageSize: S });
      try {
        for (const t of tasks) await multi.addTask(t.spec.name, t.path);
        const requests = [];
        for (let i = 0; i < N; i++) for (const t of tasks) requests.push({ image: i, task: t.spec.name });
        const out = await multi.forwardF32({ pixels: images, shape }, requests);
        for (const t of tasks) {
          const ref = await t.model.forward({ pixels: images, shape });
          const C = t.spec.numClasses;
          requests.forEach((r, k) => {
            if (r.task !== t.spec.name) return;
            expect(
              maxAbsDiff(out[k]!, ref.subarray(r.image * C, (r.image + 1) * C)),
              `${family} ${r.task}`,
            ).toBeLessThan(1e-5);
          });
        }
      } finally {
        multi.dispose();
        for (const t of tasks) (t.model as Model).dispose();
      }
    });
  }
});

describe('MultiTaskModel refuses what its forward does not compute', () => {
  it('a task trained with poolPrompts is refused by name', async () => {
    const weights = join(FIXTURES, 'timm_families', 'siglip');
    const dir = join(tmp.dir, 'pool-prompts');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir);
    const [task] = await writeTaskStates(weights, dir, [SPECS[0]!], { imageSize: 32, poolPrompts: true });
    (task!.model as Model).dispose();
    const multi = await MultiTaskModel.create({ weights, device: 'cpu', imageSize: 32 });
    try {
      await expect(multi.addTask('pooled', task!.path)).rejects.toThrow(/trained with poolPrompts/);
    } finally {
      multi.dispose();
    }
  });
});

describe('MultiTaskModel refuses the variants its forward does not compute', () => {
  it('deep variants, pool types and another normalization are refused by name', async () => {
    const dir = join(tmp.dir, 'variants');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir);
    const specs: TaskSpec[] = [
      { name: 'shared', prompt: { tokens: 2, deep: true, deepShared: true }, numClasses: 3, seed: 1 },
      { name: 'img-pool', prompt: { tokens: 2, pool: 'img_pool' }, numClasses: 3, seed: 2 },
    ];
    const tasks = await writeTaskStates(TINY_VIT, dir, specs);
    const [vpt] = await writeTaskStates(TINY_VIT, join(dir), [{ ...SPECS[1]!, name: 'vpt-norm' }], {
      normalize: 'vpt',
    });
    const multi = await MultiTaskModel.create({ weights: TINY_VIT, device: 'cpu' });
    try {
      await expect(multi.addTask('a', tasks[0]!.path)).rejects.toThrow(/prompt\.deepShared=true/);
      await expect(multi.addTask('b', tasks[1]!.path)).rejects.toThrow(/prompt\.pool="img_pool"/);
      await expect(multi.addTask('c', vpt!.path)).rejects.toThrow(/normalization mean/);
    } finally {
      multi.dispose();
      for (const t of [...tasks, vpt!]) (t.model as Model).dispose();
    }
  });
});
