import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ServeHandle } from '../../lib/index.js';
import { tempDir } from '../helpers/common.js';
import { bombPng, serveFixture, startServer } from '../helpers/serve.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let fixture: Awaited<ReturnType<typeof serveFixture>>;
let server: ServeHandle;
const BODY_LIMIT = 64 * 1024;

beforeAll(async () => {
  tmp = await tempDir();
  fixture = await serveFixture(tmp.dir);
  server = await startServer(fixture.tasks, { bodyLimit: BODY_LIMIT, maxPixels: 1_000_000 });
});
afterAll(async () => {
  await server?.close();
  await tmp.cleanup();
});

async function expectError(response: Response, status: number, code: string): Promise<string> {
  expect(response.status).toBe(status);
  const body = await response.json();
  expect(body.error.code).toBe(code);
  expect(body.error.message).toEqual(expect.any(String));
  return body.error.message;
}

function post(path: string, body: BodyInit, type = 'application/octet-stream') {
  return fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': type } });
}

describe('serve: bad input gets its status and code, and the server keeps serving', () => {
  it('a body over the limit: 413 body_too_large (raw and multipart)', async () => {
    await expectError(await post('/v1/tasks/deep-a/predict', Buffer.alloc(BODY_LIMIT + 1)), 413, 'body_too_large');
    const form = new FormData();
    form.append('image', new Blob([Buffer.alloc(BODY_LIMIT + 1)]), 'big.jpg');
    await expectError(
      await fetch(`${server.url}/v1/tasks/deep-a/predict`, { method: 'POST', body: form }),
      413,
      'body_too_large',
    );
  });

  it('not an image: 415 not_an_image', async () => {
    await expectError(await post('/v1/tasks/deep-a/predict', Buffer.from('%PDF-1.4 hello')), 415, 'not_an_image');
  });

  it('a truncated JPEG (in its header or its data): 422 corrupt_image', async () => {
    const truncated = fixture.jpeg.subarray(0, Math.floor(fixture.jpeg.length / 2));
    await expectError(await post('/v1/tasks/deep-a/predict', truncated, 'image/jpeg'), 422, 'corrupt_image');
    // Cut in the entropy-coded data, after an intact header.
    const cut = fixture.jpeg.subarray(0, fixture.jpeg.length - 40);
    await expectError(await post('/v1/tasks/deep-a/predict', cut, 'image/jpeg'), 422, 'corrupt_image');
  });

  it('a decompression bomb (over the pixel limit) is refused from its header: 422 image_too_many_pixels', async () => {
    const bomb = await bombPng(4000, 3000);
    expect(bomb.length).toBeLessThan(BODY_LIMIT);
    const message = await expectError(
      await post('/v1/tasks/deep-a/predict', bomb, 'image/png'),
      422,
      'image_too_many_pixels',
    );
    expect(message).toContain('4000x3000');
  });

  it('an unknown task: 404 unknown_task, naming it', async () => {
    const message = await expectError(await post('/v1/tasks/nope/predict', fixture.jpeg), 404, 'unknown_task');
    expect(message).toContain('"nope"');
    await expectError(await post('/v1/predict?tasks=deep-a,nope', fixture.jpeg), 404, 'unknown_task');
  });

  it('an empty body, a multipart form without a file, a bad topK: 400 bad_request', async () => {
    await expectError(await post('/v1/tasks/deep-a/predict', Buffer.alloc(0)), 400, 'bad_request');
    const form = new FormData();
    form.append('tasks', 'deep-a');
    await expectError(await fetch(`${server.url}/v1/predict`, { method: 'POST', body: form }), 400, 'bad_request');
    await expectError(await post('/v1/tasks/deep-a/predict?topK=0', fixture.jpeg), 400, 'bad_request');
  });

  it('still answers a good request afterwards', async () => {
    const response = await post('/v1/tasks/deep-a/predict', fixture.jpeg, 'image/jpeg');
    expect(response.status).toBe(200);
    expect((await response.json()).top).toHaveLength(5);
  });
});
