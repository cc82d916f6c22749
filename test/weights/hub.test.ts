/**
 * Hub ids as weights, against a loopback server that speaks the hub's download protocol
 * (paths-info + resolve with ranges): download into the standard cache layout, reuse of the
 * cache without network, integrity check, offline mode.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { createModel } from '../../lib/index.js';
import { golden, maxAbsDiff, TINY_NUM_CLASSES, TINY_VIT, tempDir } from '../helpers/common.js';

const REPO = 'timm/vit_tiny_test.fixture';
const COMMIT = 'a'.repeat(40);

let tmp: Awaited<ReturnType<typeof tempDir>>;
let server: Server;
let files: Record<string, Buffer>;
let corrupt = false;
const requests: string[] = [];

function etagOf(name: string, content: Buffer): string {
  return name.endsWith('.safetensors')
    ? createHash('sha256').update(content).digest('hex')
    : createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

beforeAll(async () => {
  tmp = await tempDir();
  files = {
    'config.json': await readFile(join(TINY_VIT, 'config.json')),
    'model.safetensors': await readFile(join(TINY_VIT, 'model.safetensors')),
  };
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    requests.push(`${req.method} ${url.pathname}`);
    if (req.method === 'POST' && url.pathname === `/api/models/${REPO}/paths-info/main`) {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        const { paths } = JSON.parse(body) as { paths: string[] };
        res.setHeader('Content-Type', 'application/json');
        res.end(
          JSON.stringify(
            paths
              .filter((p) => files[p])
              .map((p) => {
                const content = files[p]!;
                const lfs = p.endsWith('.safetensors')
                  ? { lfs: { oid: etagOf(p, content), size: content.length, pointerSize: 134 } }
                  : {};
                return {
                  type: 'file',
                  path: p,
                  size: content.length,
                  oid: etagOf(p.replace('.safetensors', '.json'), content),
                  ...lfs,
                  lastCommit: { id: COMMIT, title: 'fixture', date: '2026-01-01T00:00:00Z' },
                };
              }),
          ),
        );
      });
      return;
    }
    const prefix = `/${REPO}/resolve/main/`;
    const name = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : '';
    const content = files[name];
    if (req.method !== 'GET' || !content) {
      res.statusCode = 404;
      res.setHeader('X-Error-Code', 'EntryNotFound');
      res.end();
      return;
    }
    const served =
      corrupt && name.endsWith('.safetensors')
        ? Buffer.concat([content.subarray(0, content.length - 1), Buffer.from([content.at(-1)! ^ 1])])
        : content;
    res.setHeader('ETag', `"${etagOf(name, content)}"`);
    const range = /bytes=(\d+)-(\d+)?/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), served.length - 1) : served.length - 1;
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${start}-${end}/${served.length}`);
      res.setHeader('Content-Length', String(end - start + 1));
      res.end(served.subarray(start, end + 1));
    } else {
      res.setHeader('Content-Length', String(served.length));
      res.end(served);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.env.HF_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

beforeEach(() => {
  requests.length = 0;
  corrupt = false;
  delete process.env.HF_HUB_OFFLINE;
});

afterAll(async () => {
  delete process.env.HF_ENDPOINT;
  delete process.env.HF_HUB_CACHE;
  delete process.env.HF_HUB_OFFLINE;
  await new Promise((r) => server.close(r));
  await tmp.cleanup();
});

describe('hub weights', () => {
  it('downloads into the standard cache layout with progress, then reuses the cache offline', async () => {
    const cache = join(tmp.dir, 'hub-cache');
    process.env.HF_HUB_CACHE = cache;
    const progress: Array<{ file: string; received: number; total: number | null }> = [];
    const model = await createModel({
      weights: REPO,
      numClasses: TINY_NUM_CLASSES,
      prompt: null,
      device: 'cpu',
      onDownloadProgress: (p) => progress.push(p),
    });
    const g = await golden();
    expect(
      maxAbsDiff(await model.features(g.get('images')!.data, [2, 3, 32, 32]), g.get('plain.features')!.data),
    ).toBeLessThanOrEqual(1e-4);
    model.dispose();

    const folder = join(cache, 'models--timm--vit_tiny_test.fixture');
    expect((await readFile(join(folder, 'refs', 'main'), 'utf8')).trim()).toBe(COMMIT);
    expect((await readdir(join(folder, 'snapshots', COMMIT))).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(await readlink(join(folder, 'snapshots', COMMIT, 'model.safetensors'))).toContain(`blobs`);
    expect(progress.at(-1)).toMatchObject({
      file: 'model.safetensors',
      received: files['model.safetensors']!.length,
      total: files['model.safetensors']!.length,
    });
    expect(requests.some((r) => r.startsWith('GET'))).toBe(true);

    requests.length = 0;
    process.env.HF_HUB_OFFLINE = '1';
    const again = await createModel({ weights: REPO, numClasses: TINY_NUM_CLASSES, prompt: null, device: 'cpu' });
    again.dispose();
    expect(requests).toEqual([]);
  });

  it('a corrupted download fails its integrity check and leaves no blob behind', async () => {
    process.env.HF_HUB_CACHE = join(tmp.dir, 'hub-cache-corrupt');
    corrupt = true;
    await expect(createModel({ weights: REPO, numClasses: TINY_NUM_CLASSES, device: 'cpu' })).rejects.toMatchObject({
      code: 'VPT_WEIGHTS',
      message: expect.stringContaining('integrity check'),
    });
    const blobs = await readdir(join(tmp.dir, 'hub-cache-corrupt', 'models--timm--vit_tiny_test.fixture', 'blobs'));
    expect(blobs.filter((b) => b.length === 64)).toEqual([]);
  });

  it('offline without a cached copy, or an unknown repo, is a clear error', async () => {
    process.env.HF_HUB_CACHE = join(tmp.dir, 'hub-cache-empty');
    process.env.HF_HUB_OFFLINE = '1';
    await expect(createModel({ weights: REPO, numClasses: 3, device: 'cpu' })).rejects.toMatchObject({
      code: 'VPT_IO',
      message: expect.stringContaining('HF_HUB_OFFLINE'),
    });
    delete process.env.HF_HUB_OFFLINE;
    await expect(createModel({ weights: 'timm/does_not_exist', numClasses: 3, device: 'cpu' })).rejects.toMatchObject({
      code: 'VPT_IO',
      message: expect.stringContaining('timm/does_not_exist'),
    });
  });
});
