import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createModel, serve } from '../../lib/index.js';
import { TINY_NUM_CLASSES, TINY_VIT, tempDir } from '../helpers/common.js';
import { serveFixture, startServer } from '../helpers/serve.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let fixture: Awaited<ReturnType<typeof serveFixture>>;

beforeAll(async () => {
  tmp = await tempDir();
  fixture = await serveFixture(tmp.dir);
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('serve(): options', () => {
  it('--tasks-dir takes <name>.safetensors and <name>/best.safetensors', async () => {
    const dir = join(tmp.dir, 'tasks');
    await mkdir(join(dir, 'birds'), { recursive: true });
    await copyFile(fixture.tasks['deep-a']!, join(dir, 'birds', 'best.safetensors'));
    await copyFile(fixture.tasks['linear-a']!, join(dir, 'cars.safetensors'));
    const server = await serve({ weights: TINY_VIT, tasksDir: dir, device: 'cpu', port: 0 });
    try {
      const body = await (await fetch(`${server.url}/v1/tasks`)).json();
      expect(body.tasks.map((t: { name: string }) => [t.name, t.numClasses])).toEqual([
        ['birds', 7],
        ['cars', 3],
      ]);
    } finally {
      await server.close();
    }
  });

  it('names a bad option, a missing task list and a full fine-tuning state', async () => {
    await expect(serve({ weights: TINY_VIT, tasks: {} })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('"tasks"'),
    });
    await expect(startServer(fixture.tasks, { maxBatch: 0 })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('"maxBatch"'),
    });
    const full = await createModel({
      weights: TINY_VIT,
      numClasses: TINY_NUM_CLASSES,
      transfer: 'full',
      prompt: null,
      device: 'cpu',
    });
    const path = join(tmp.dir, 'full.safetensors');
    await full.saveTrainable(path);
    full.dispose();
    await expect(startServer({ full: path })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('full fine-tuning state'),
    });
  });
});
