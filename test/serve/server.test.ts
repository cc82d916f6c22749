import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createModel, type ServeHandle } from '../../lib/index.js';
import { topK } from '../../lib/serve/top-k.js';
import { decodeUpload } from '../../lib/serve/upload-image.js';
import { maxAbsDiff, TINY_VIT, tempDir } from '../helpers/common.js';
import { parsePrometheus, serveFixture, startServer } from '../helpers/serve.js';
import { MIXED_TASKS } from '../helpers/tasks.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let fixture: Awaited<ReturnType<typeof serveFixture>>;
let server: ServeHandle;

beforeAll(async () => {
  tmp = await tempDir();
  fixture = await serveFixture(tmp.dir);
  server = await startServer(fixture.tasks);
});
afterAll(async () => {
  await server?.close();
  await tmp.cleanup();
});

function post(path: string, body: BodyInit, headers: Record<string, string> = { 'content-type': 'image/jpeg' }) {
  return fetch(`${server.url}${path}`, { method: 'POST', body, headers });
}

/** The single-task model's top-k of the upload, through the same decode + crop. */
async function reference(task: string, k: number) {
  const spec = MIXED_TASKS.find((t) => t.name === task)!;
  const model = await createModel({
    weights: TINY_VIT,
    numClasses: spec.numClasses,
    prompt: spec.prompt,
    ...(spec.prompt === null ? { transfer: 'linear' as const } : {}),
    mlpLayers: spec.mlpLayers ?? 0,
    device: 'cpu',
    trainable: fixture.tasks[task]!,
  });
  try {
    const pixels = await decodeUpload(fixture.jpeg, { cropSize: 32, maxPixels: 1e8 });
    const logits = await model.forward({
      pixels,
      shape: [1, 32, 32, 3],
      crops: new Int32Array(2),
      flips: new Uint8Array(1),
      cropSize: 32,
    });
    return { logits, top: topK(logits, model.info().classNames!, k) };
  } finally {
    model.dispose();
  }
}

describe('serve: endpoints', () => {
  it('GET /v1/tasks lists each task with classes, prompt config and the backbone fingerprint', async () => {
    const body = await (await fetch(`${server.url}/v1/tasks`)).json();
    expect(body.backbone).toMatchObject({
      arch: 'vit_tiny_patch16_224.vpt_native_fixture',
      imageSize: 32,
      device: 'cpu',
    });
    expect(body.backbone.weights).toMatch(/^[0-9a-f]{16}$/);
    expect(body.tasks.map((t: { name: string }) => t.name)).toEqual(MIXED_TASKS.map((t) => t.name));
    expect(body.tasks[0]).toMatchObject({
      name: 'deep-a',
      numClasses: 7,
      transfer: 'prompt',
      prompt: { tokens: 3, deep: true, project: 8 },
      mlpLayers: 1,
      backbone: { weights: body.backbone.weights },
    });
    expect(body.tasks[0].classNames[6]).toBe('deep-a-6');
  });

  it('POST /v1/tasks/:task/predict (raw body and multipart) gives the single-task model’s top-k', async () => {
    const ref = await reference('deep-a', 3);
    const raw = await post('/v1/tasks/deep-a/predict?topK=3', fixture.jpeg);
    expect(raw.status).toBe(200);
    const a = await raw.json();
    expect(a.task).toBe('deep-a');
    expect(a.top.map((t: { name: string }) => t.name)).toEqual(ref.top.map((t) => t.name));
    expect(
      maxAbsDiff(
        new Float32Array(a.top.map((t: { prob: number }) => t.prob)),
        new Float32Array(ref.top.map((t) => t.prob)),
      ),
    ).toBeLessThan(1e-5);

    const form = new FormData();
    form.append('image', new Blob([fixture.jpeg], { type: 'image/jpeg' }), 'bird.jpg');
    const multipart = await fetch(`${server.url}/v1/tasks/deep-a/predict?topK=3`, { method: 'POST', body: form });
    expect(multipart.status).toBe(200);
    expect(await multipart.json()).toEqual(a);
  });

  it('POST /v1/predict classifies one image with several tasks', async () => {
    const response = await post('/v1/predict?tasks=linear-b,shallow,linear-a&topK=2', fixture.jpeg);
    expect(response.status).toBe(200);
    const { predictions } = await response.json();
    expect(predictions.map((p: { task: string }) => p.task)).toEqual(['linear-b', 'shallow', 'linear-a']);
    for (const p of predictions) {
      const ref = await reference(p.task, 2);
      expect(p.top.map((t: { label: number }) => t.label)).toEqual(ref.top.map((t) => t.label));
    }
    const all = await (await post('/v1/predict', fixture.jpeg)).json();
    expect(all.predictions).toHaveLength(MIXED_TASKS.length);
  });

  it('health, readiness, OpenAPI and the web page', async () => {
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const doc = await (await fetch(`${server.url}/openapi.json`)).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/tasks/{task}/predict', '/v1/predict', '/v1/tasks', '/metrics']),
    );
    const page = await fetch(server.url);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('id="file"');
  });

  it('GET /metrics is Prometheus text with requests, errors, latency, batch sizes, queue depth and memory', async () => {
    await post('/v1/tasks/linear-a/predict', fixture.jpeg);
    await post('/v1/tasks/linear-a/predict', Buffer.from('not an image at all'));
    const response = await fetch(`${server.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const samples = parsePrometheus(await response.text());
    expect(samples.get('vpt_serve_requests_total{task="linear-a",status="200"}')).toBeGreaterThanOrEqual(1);
    expect(samples.get('vpt_serve_requests_total{task="linear-a",status="415"}')).toBe(1);
    expect(samples.get('vpt_serve_errors_total{task="linear-a",code="not_an_image"}')).toBe(1);
    expect(
      samples.get('vpt_serve_request_duration_seconds_count{route="/v1/tasks/:task/predict"}'),
    ).toBeGreaterThanOrEqual(2);
    expect(samples.get('vpt_serve_batch_size_count')).toBeGreaterThanOrEqual(1);
    expect(samples.get('vpt_serve_queue_depth')).toBe(0);
    expect(samples.get('vpt_serve_device_memory_bytes{kind="backbone",task=""}')).toBe(
      server.model.info().backboneBytes,
    );
    expect(samples.get('vpt_serve_device_memory_bytes{kind="task",task="deep-a"}')).toBeGreaterThan(0);
    expect(samples.get('vpt_serve_process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});
