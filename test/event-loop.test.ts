/** Heavy native calls run off the JS thread: timers keep firing during a forward pass. */
import { join } from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { createModel } from '../lib/index.js';
import { randomFloats, tempDir, writeRandomVit } from './helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

it('the event loop keeps ticking while a forward pass runs', async () => {
  const weights = join(tmp.dir, 'vit.safetensors');
  await writeRandomVit(weights, { embedDim: 256, depth: 6, patchSize: 16, imgSize: 224 });
  const model = await createModel({ weights, arch: 'vit_small_patch16_224', numClasses: 10, device: 'cpu' }).catch(
    (e: Error) => e,
  );
  // The arch says embed 384 / depth 12, the file has 256 / 6: that must be refused...
  expect(model).toMatchObject({ code: 'VPT_ARCH' });
  await import('node:fs/promises').then((fs) =>
    fs.writeFile(
      join(tmp.dir, 'config.json'),
      JSON.stringify({ architecture: 'vit_small_patch16_224', model_args: { embed_dim: 256, depth: 6, num_heads: 8 } }),
    ),
  );
  // ...while config.json overrides make it a valid architecture.
  const m = await createModel({ weights, numClasses: 10, device: 'cpu', prompt: { tokens: 10, deep: true } });

  const n = 24;
  const images = randomFloats(n * 3 * 224 * 224, 3);
  let ticks = 0;
  const timer = setInterval(() => {
    ticks++;
  }, 5);
  const started = performance.now();
  const logits = await m.forward(images, [n, 3, 224, 224]);
  const elapsed = performance.now() - started;
  clearInterval(timer);

  expect(logits.length).toBe(n * 10);
  expect(logits.every(Number.isFinite)).toBe(true);
  // A blocked loop would give 0-1 ticks; a free one about elapsed / 5.
  expect(elapsed).toBeGreaterThan(50);
  expect(ticks).toBeGreaterThanOrEqual(Math.floor(elapsed / 5 / 4));
  m.dispose();
});

it('concurrent calls on one model are serialized and each gets its own result', async () => {
  const weights = join(tmp.dir, 'vit.safetensors');
  const m = await createModel({ weights, numClasses: 10, device: 'cpu' });
  const a = randomFloats(2 * 3 * 224 * 224, 7);
  const b = randomFloats(2 * 3 * 224 * 224, 8);
  const [ra, rb, ra2] = await Promise.all([
    m.forward(a, [2, 3, 224, 224]),
    m.forward(b, [2, 3, 224, 224]),
    m.forward(a, [2, 3, 224, 224]),
  ]);
  expect(Array.from(ra)).toEqual(Array.from(ra2));
  expect(Array.from(ra)).not.toEqual(Array.from(rb));
  m.dispose();
});
