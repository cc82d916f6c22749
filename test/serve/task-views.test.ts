/**
 * Each served task sees its images as its run's eval view (VPT's resize + center crop, or VTAB's
 * plain resize), decoded by the data pipeline's native JPEG decoder: the same top-k as `predict`
 * of the same file with the same view.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { predict, type ServeHandle, VptError } from '../../lib/index.js';
import { TINY_VIT, tempDir } from '../helpers/common.js';
import { serveFixture, startServer } from '../helpers/serve.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let fixture: Awaited<ReturnType<typeof serveFixture>>;
let server: ServeHandle;
let vtabRun: string;

beforeAll(async () => {
  tmp = await tempDir();
  fixture = await serveFixture(tmp.dir);
  // The same trained state in a run folder whose config.json says it trained on the VTAB view.
  vtabRun = join(tmp.dir, 'run-vtab');
  await mkdir(vtabRun);
  await copyFile(fixture.tasks['deep-a']!, join(vtabRun, 'best.safetensors'));
  await writeFile(join(vtabRun, 'config.json'), JSON.stringify({ preprocess: 'vtab' }));
  server = await startServer(
    {
      fgvc: fixture.tasks['deep-a']!,
      vtab: join(vtabRun, 'best.safetensors'),
      forced: fixture.tasks['deep-a']!,
    },
    { preprocess: { forced: 'vtab' } },
  );
});
afterAll(async () => {
  await server?.close();
  await tmp.cleanup();
});

async function served(tasks: string) {
  const response = await fetch(`${server.url}/v1/predict?tasks=${tasks}&topK=7`, {
    method: 'POST',
    body: fixture.jpeg,
    headers: { 'content-type': 'image/jpeg' },
  });
  expect(response.status).toBe(200);
  return (await response.json()).predictions as Array<{ task: string; top: Array<{ label: number; prob: number }> }>;
}

async function predicted(preprocess: 'fgvc' | 'vtab') {
  const [p] = await predict({
    weights: TINY_VIT,
    checkpoint: fixture.tasks['deep-a']!,
    images: [join(tmp.dir, 'bird.jpg')],
    topK: 7,
    device: 'cpu',
    preprocess,
  });
  return p!.top;
}

const probs = (top: Array<{ label: number; prob: number }>) =>
  Object.fromEntries(top.map((t) => [t.label, t.prob])) as Record<number, number>;

describe('serve: each task its eval view', () => {
  it("takes the view from the run's config.json, or the preprocess option, and reports it", async () => {
    const body = await (await fetch(`${server.url}/v1/tasks`)).json();
    expect(
      Object.fromEntries(body.tasks.map((t: { name: string; preprocess: string }) => [t.name, t.preprocess])),
    ).toEqual({
      fgvc: 'fgvc',
      vtab: 'vtab',
      forced: 'vtab',
    });
  });

  it('answers as predict() of the file with the same view, tasks of both views in one request', async () => {
    const [fgvc, vtab, forced] = await served('fgvc,vtab,forced');
    const wantFgvc = probs(await predicted('fgvc'));
    const wantVtab = probs(await predicted('vtab'));
    for (const [got, want] of [
      [fgvc!, wantFgvc],
      [vtab!, wantVtab],
      [forced!, wantVtab],
    ] as const) {
      const p = probs(got.top);
      expect(Object.keys(p).sort()).toEqual(Object.keys(want).sort());
      for (const label of Object.keys(want))
        expect(Math.abs(p[Number(label)]! - want[Number(label)]!)).toBeLessThan(1e-5);
    }
    // The 50 x 40 image: the two views are different pixels, so different answers.
    const diff = Math.max(...Object.keys(wantFgvc).map((l) => Math.abs(wantFgvc[Number(l)]! - wantVtab[Number(l)]!)));
    expect(diff).toBeGreaterThan(1e-4);
  });

  it('a view for a task it does not serve is an option error naming it', async () => {
    const error = await startServer({ a: fixture.tasks['deep-a']! }, { preprocess: { b: 'vtab' } }).catch((e) => e);
    expect(error).toBeInstanceOf(VptError);
    expect(error.message).toMatch(/Invalid option "preprocess": no task "b" \(tasks: a\)/);
  });
});
