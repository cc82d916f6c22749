import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '../../lib/index.js';
import { MultiTaskModel } from '../../lib/model/multi-task-model.js';
import { maxAbsDiff, randomFloats, TINY_VIT, tempDir } from '../helpers/common.js';
import { writeTaskStates } from '../helpers/tasks.js';

const S = 32;
const N_IMAGES = 4;
const images = randomFloats(N_IMAGES * 3 * S * S, 7);
const shape = [N_IMAGES, 3, S, S] as const;

let tmp: Awaited<ReturnType<typeof tempDir>>;
let tasks: Awaited<ReturnType<typeof writeTaskStates>>;
let multi: MultiTaskModel;
/** Each task's own forward of every image: (task) -> n x C logits. */
const single = new Map<string, Float32Array>();

beforeAll(async () => {
  tmp = await tempDir();
  tasks = await writeTaskStates(TINY_VIT, tmp.dir);
  for (const t of tasks) single.set(t.spec.name, await t.model.forward({ pixels: images, shape }));
  multi = await MultiTaskModel.create({ weights: TINY_VIT, device: 'cpu' });
  for (const t of tasks) await multi.addTask(t.spec.name, t.path);
});
afterAll(async () => {
  multi?.dispose();
  for (const t of tasks ?? []) (t.model as Model).dispose();
  await tmp.cleanup();
});

function reference(task: string, image: number): Float32Array {
  const C = multi.task(task).numClasses;
  return single.get(task)!.subarray(image * C, (image + 1) * C);
}

describe('MultiTaskModel.forward', () => {
  it('a mixed-task batch equals each task’s single-task forward within 1e-5', async () => {
    // Every (image, task) pair, interleaved so that each prompt shape's rows are scattered.
    const requests = [];
    for (let i = 0; i < N_IMAGES; i++)
      for (const t of tasks) requests.push({ image: (i * 3 + 1) % N_IMAGES, task: t.spec.name });
    requests.reverse();
    const out = await multi.forwardF32({ pixels: images, shape }, requests);
    expect(out).toHaveLength(requests.length);
    requests.forEach((r, k) => {
      expect(out[k]!.length).toBe(multi.task(r.task).numClasses);
      expect(maxAbsDiff(out[k]!, reference(r.task, r.image))).toBeLessThan(1e-5);
    });
  });

  it('one image for several tasks, and one task for a subset of images', async () => {
    const requests = [
      { image: 2, task: 'linear-a' },
      { image: 2, task: 'linear-b' },
      { image: 2, task: 'deep-b' },
      { image: 0, task: 'shallow' },
      { image: 3, task: 'shallow' },
    ];
    const out = await multi.forwardF32({ pixels: images, shape }, requests);
    requests.forEach((r, k) => {
      expect(maxAbsDiff(out[k]!, reference(r.task, r.image))).toBeLessThan(1e-5);
    });
  });

  it('takes uint8 batches cropped and normalized on the device, as Model.forward does', async () => {
    const n = 2;
    const h = 36;
    const pixels = new Uint8Array(n * h * h * 3).map((_, i) => (i * 37) % 251);
    const batch = {
      pixels,
      shape: [n, h, h, 3] as [number, number, number, 3],
      crops: new Int32Array([2, 2, 0, 4]),
      flips: new Uint8Array(n),
      cropSize: S,
    };
    const out = await multi.forward(batch, [
      { image: 1, task: 'deep-a' },
      { image: 0, task: 'linear-a' },
    ]);
    const deep = tasks.find((t) => t.spec.name === 'deep-a')!.model;
    const linear = tasks.find((t) => t.spec.name === 'linear-a')!.model;
    expect(maxAbsDiff(out[0]!, (await deep.forward(batch)).subarray(7, 14))).toBeLessThan(1e-5);
    expect(maxAbsDiff(out[1]!, (await linear.forward(batch)).subarray(0, 3))).toBeLessThan(1e-5);
  });

  it('names an unknown task and an image index out of range', async () => {
    await expect(multi.forwardF32({ pixels: images, shape }, [{ image: 0, task: 'nope' }])).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('no task "nope"'),
    });
    await expect(multi.forwardF32({ pixels: images, shape }, [{ image: 4, task: 0 }])).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('requests[0].image'),
    });
  });

  it('a task costs its prompts and head, not a backbone', () => {
    const { backboneBytes } = multi.info();
    for (const t of multi.tasks) expect(t.bytes).toBeLessThan(backboneBytes / 5);
    expect(multi.task('deep-a')).toMatchObject({ numClasses: 7, classNames: expect.arrayContaining(['deep-a-6']) });
  });
});
