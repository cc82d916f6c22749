import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/binding.js';
import { TINY_VIT, tempDir } from '../helpers/common.js';
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

function predict(url: string, task = 'deep-a') {
  return fetch(`${url}/v1/tasks/${task}/predict`, {
    method: 'POST',
    body: fixture.jpeg,
    headers: { 'content-type': 'image/jpeg' },
  });
}

describe('serve: overload, deadlines and shutdown', () => {
  it('a full queue answers 503 queue_full with Retry-After while the accepted requests succeed', async () => {
    // Batches wait up to 3 s to fill 64: the queue fills before the first batch runs.
    const server = await startServer(fixture.tasks, { maxQueue: 3, maxBatch: 64, maxWaitMs: 3000 });
    try {
      const responses = await Promise.all(Array.from({ length: 12 }, () => predict(server.url)));
      const ok = responses.filter((r) => r.status === 200);
      const refused = responses.filter((r) => r.status === 503);
      expect(ok).toHaveLength(3);
      expect(refused).toHaveLength(9);
      for (const r of refused) {
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect((await r.json()).error.code).toBe('queue_full');
      }
      for (const r of ok) expect((await r.json()).top[0].name).toMatch(/^deep-a-\d$/);
    } finally {
      await server.close();
    }
  });

  it('a request past its deadline answers 504 deadline_exceeded; the server keeps serving', async () => {
    const server = await startServer(fixture.tasks, { maxBatch: 64, maxWaitMs: 3000, timeoutMs: 300 });
    try {
      const response = await predict(server.url);
      expect(response.status).toBe(504);
      expect((await response.json()).error.code).toBe('deadline_exceeded');
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('SIGTERM stops accepting, answers the requests in flight and exits 0', async () => {
    const child = spawn(
      process.execPath,
      [
        join(packageRoot, 'dist', 'bin', 'launch.cjs'),
        'serve',
        '--weights',
        TINY_VIT,
        '--task',
        `deep-a=${fixture.tasks['deep-a']}`,
        '--task',
        `linear-a=${fixture.tasks['linear-a']}`,
        '--device',
        'cpu',
        '--port',
        '0',
        '--max-batch',
        '64',
        '--max-wait-ms',
        '1500',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const m = /listening on (http:\/\/\S+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.on('exit', () => reject(new Error(`serve exited early: ${stderr}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Three requests wait in the queue for their batch (1.5 s) when SIGTERM arrives.
    const inFlight = [predict(url), predict(url, 'linear-a'), predict(url)];
    await new Promise((resolve) => setTimeout(resolve, 500));
    child.kill('SIGTERM');
    const responses = await Promise.all(inFlight);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await exited).toBe(0);
    expect(stderr).toContain('SIGTERM: not accepting');
    expect(stderr).toContain('stopped');
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
