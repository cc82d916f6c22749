// Soak: `serve()` under sustained load for a long time, sampling the server's resident memory and
// open file descriptors every window. After warm-up, RSS must grow less than 5% and no descriptor
// may leak. Not a test: run it by hand and record the result in bench/RESULTS.md.
//
//   node bench/soak-serve.mjs [--seconds 300] [--window 10] [--connections 4] [--no-gc]
//
// The server (the demo's tiny ViT, D 96, depth 4, patch 8, at 32 px; two VPT-deep tasks) runs in
// this process, so each sample can follow a full garbage collection (V8 collects its old
// generation lazily: without it a sample measures garbage not yet collected, not what the server
// keeps; --no-gc samples without it) and read malloc's counters. The load comes from two
// autocannon processes, one per task: a 320 x 240 JPEG to one (the native decoder) and the same
// image as PNG to the other (sharp).
//
// Warm-up is the first 10% of the windows. The growth is the median RSS of the last 10% of the
// windows against the median of the 10% right after warm-up. Exit code 1 when a criterion fails
// or a request failed.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import sharp from 'sharp';

import { mib, processMemory } from './process-memory.mjs';
import { median } from './stats.mjs';

const dist = resolve(process.env.VPT_BENCH_DIST ?? join(import.meta.dirname, '..', 'dist'));
const { createModel, serve } = await import(join(dist, 'lib/index.js'));
const { writeRandomBackbone } = await import(join(dist, 'lib/demo/random-backbone.js'));
const { hostHeap } = await import(join(dist, 'lib/host-heap.js'));

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const SECONDS = Number(arg('seconds', '300'));
const WINDOW = Number(arg('window', '10'));
const CONNECTIONS = Number(arg('connections', '4'));
setFlagsFromString('--expose-gc');
const gc = process.argv.includes('--no-gc') ? () => {} : runInNewContext('gc');

/** What each load process runs: autocannon posting one file to one URL, its result printed as JSON. */
const LOAD_SCRIPT = `
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
const [url, file, type, connections, seconds] = process.argv.slice(1);
const r = await autocannon({ url, connections: Number(connections), duration: Number(seconds), timeout: 60,
  method: 'POST', headers: { 'content-type': type }, body: readFileSync(file) });
process.stdout.write(JSON.stringify({ ok: r['2xx'], failed: r.non2xx + r.errors + r.timeouts }));
`;

/** autocannon in a process of its own (its memory is not the server's) posting `file` to `url` for `seconds`. */
function load(url, file, type, seconds) {
  const args = ['--input-type=module', '-e', LOAD_SCRIPT, url, file, type, String(CONNECTIONS / 2), String(seconds)];
  const child = spawn(process.execPath, args, {
    cwd: join(import.meta.dirname, '..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done(JSON.parse(out)) : fail(new Error(`load process exited ${code}`))));
  });
}

const dir = await mkdtemp(join(tmpdir(), 'vpt-soak-serve-'));
let server;
try {
  const weights = await writeRandomBackbone(join(dir, 'backbone'), {
    embedDim: 96,
    depth: 4,
    numHeads: 3,
    patchSize: 8,
    imgSize: 32,
    seed: 1,
  });
  const tasks = {};
  for (const name of ['jpeg', 'png']) {
    const model = await createModel({ weights, numClasses: 10, prompt: { tokens: 10, deep: true }, device: 'cpu' });
    tasks[name] = join(dir, `${name}.safetensors`);
    await model.saveTrainable(tasks[name]);
    model.dispose();
  }
  const w = 320,
    h = 240;
  const pixels = new Uint8Array(w * h * 3).map((_, i) => (i * 131 + ((i / 960) | 0) * 7) % 256);
  const image = sharp(pixels, { raw: { width: w, height: h, channels: 3 } });
  await writeFile(join(dir, 'image.jpg'), await image.clone().jpeg({ quality: 90 }).toBuffer());
  await writeFile(join(dir, 'image.png'), await image.clone().png().toBuffer());

  server = await serve({ weights, tasks, device: 'cpu', port: 0, maxBatch: 16, maxWaitMs: 5 });
  const windows = Math.max(10, Math.round(SECONDS / WINDOW));
  console.error(`soak-serve: ${windows} windows of ${WINDOW} s, ${CONNECTIONS} connections, ${server.url}`);
  const samples = [];
  let requests = 0,
    failed = 0;
  const started = performance.now();
  for (let i = 0; i < windows; i++) {
    const results = await Promise.all([
      load(`${server.url}/v1/tasks/jpeg/predict`, join(dir, 'image.jpg'), 'image/jpeg', WINDOW),
      load(`${server.url}/v1/tasks/png/predict`, join(dir, 'image.png'), 'image/png', WINDOW),
    ]);
    for (const r of results) {
      requests += r.ok;
      failed += r.failed;
    }
    gc();
    const m = process.memoryUsage();
    const p = processMemory();
    samples.push({
      rss: p.rss,
      heap: m.heapUsed,
      heapTotal: m.heapTotal,
      native: p.heap + p.anon - m.heapTotal,
      mallocInUse: hostHeap()?.inUse ?? 0,
      fds: p.fds,
      requests: results.reduce((n, r) => n + r.ok, 0),
    });
  }
  const seconds = (performance.now() - started) / 1000;
  const n = samples.length;
  const k = Math.max(1, Math.floor(n / 10));
  const afterWarmup = samples.slice(k, 2 * k);
  const end = samples.slice(n - k);
  const at = (list, key) => mib(median(list.map((s) => s[key])));
  const rssWarm = median(afterWarmup.map((s) => s.rss));
  const rssEnd = median(end.map((s) => s.rss));
  const growth = (rssEnd - rssWarm) / rssWarm;
  const fdWarm = Math.max(...afterWarmup.map((s) => s.fds));
  const fdEnd = Math.max(...end.map((s) => s.fds));
  const tenths = (key) => Array.from({ length: 10 }, (_, i) => mib(samples[Math.floor(((i + 1) * n) / 10) - 1][key]));
  console.log(
    JSON.stringify({
      seconds: Number(seconds.toFixed(1)),
      windows: n,
      requests,
      failed,
      requestsPerSecond: Number((requests / seconds).toFixed(1)),
      rssAfterWarmupMiB: mib(rssWarm),
      rssEndMiB: mib(rssEnd),
      rssMaxAfterWarmupMiB: mib(Math.max(...samples.slice(k).map((s) => s.rss))),
      rssGrowthPercent: Number((growth * 100).toFixed(2)),
      heapAfterWarmupMiB: at(afterWarmup, 'heap'),
      heapEndMiB: at(end, 'heap'),
      heapTotalAfterWarmupMiB: at(afterWarmup, 'heapTotal'),
      heapTotalEndMiB: at(end, 'heapTotal'),
      nativeAfterWarmupMiB: at(afterWarmup, 'native'),
      nativeEndMiB: at(end, 'native'),
      mallocInUseAfterWarmupMiB: at(afterWarmup, 'mallocInUse'),
      mallocInUseEndMiB: at(end, 'mallocInUse'),
      gcBeforeSamples: !process.argv.includes('--no-gc'),
      fdsAfterWarmup: fdWarm,
      fdsEnd: fdEnd,
      rssByTenthMiB: tenths('rss'),
      nativeByTenthMiB: tenths('native'),
    }),
  );
  const ok = growth < 0.05 && fdEnd <= fdWarm && failed === 0;
  console.log(ok ? 'soak-serve: PASS' : 'soak-serve: FAIL');
  process.exitCode = ok ? 0 : 1;
} finally {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
}
