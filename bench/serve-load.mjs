#!/usr/bin/env node
// `vpt-native serve` under load: 4 VPT tasks on one backbone against the alternatives, with
// autocannon on loopback, each server a `vpt-native serve` process of its own (so its memory
// is its own):
//   (a) mixed  one server with the 4 tasks; every connection cycles through the 4 tasks
//   (b) single one server with one task; all traffic to it
//   (c) split  4 servers of one task each; the connections split evenly between them
//   (p) rate   server (a) at a fixed offered load (--rate-fraction of (a)'s img/s): p50 / p99
// (a) and (b) alternate for --rounds rounds with both servers up; each scenario reports its
// best round (a noisy neighbour on a shared machine then decides no ratio). Reports img/s (2xx answers per second), p50 / p99 latency and the servers' peak RSS (VmHWM,
// summed over the servers of (c)). Targets: (a) >= 0.9x (b)'s img/s; (a) <= 1.15x (b)'s memory.
//
// Backbone (random weights: they do not change the cost): --backbone tiny, the demo's tiny ViT
// (D 96, depth 4, patch 8) at 32 px, or ti, ViT-Ti/16 at 224 px; --image-size resamples its
// position embedding to another size, or b, ViT-B/16 at 224 px (for a GPU); tasks: VPT-deep with 10 prompts and 10 classes each (the --kinds option mixes in other
// prompt shapes: deep,deep,shallow,linear). The upload is one 320 x 240 JPEG.
//
// Usage (after `npm ci` and `npx tsc -p tsconfig.json`):
//   node bench/serve-load.mjs [--duration 10] [--connections 16] [--max-batch 16] [--max-wait-ms 5]
//     [--rounds 3] [--backbone tiny|ti|b] [--image-size N] [--kinds deep,deep,deep,deep] [--rate-fraction 0.5]
//     [--device cpu|cuda] [--json out.json]
// On CUDA each scenario also reports the servers' device memory (the caching allocator's
// reserved bytes from /metrics, summed over the servers of (c)).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import autocannon from 'autocannon';
import sharp from 'sharp';

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(process.env.VPT_BENCH_DIST ?? join(here, '..', 'dist'));
const { createModel, runtimeInfo } = await import(pathToFileURL(join(dist, 'lib', 'index.js')).href);
const { writeRandomBackbone } = await import(pathToFileURL(join(dist, 'lib', 'demo', 'random-backbone.js')).href);

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const DURATION = Number(arg('duration', '10'));
const CONNECTIONS = Number(arg('connections', '16'));
const MAX_BATCH = arg('max-batch', '16');
const MAX_WAIT_MS = arg('max-wait-ms', '5');
const KINDS = arg('kinds', 'deep,deep,deep,deep').split(',');
const RATE_FRACTION = Number(arg('rate-fraction', '0.5'));
const BACKBONES = {
  // The demo's tiny ViT: the model costs little, so the serving machinery shows.
  tiny: { name: 'tiny ViT (D 96, depth 4, patch 8)', embedDim: 96, depth: 4, numHeads: 3, patchSize: 8, imgSize: 32 },
  ti: { name: 'ViT-Ti/16', embedDim: 192, depth: 12, numHeads: 3, patchSize: 16, imgSize: 224 },
  b: { name: 'ViT-B/16', embedDim: 768, depth: 12, numHeads: 12, patchSize: 16, imgSize: 224 },
};
const DEVICE = arg('device', 'cpu');
const BACKBONE = BACKBONES[arg('backbone', 'tiny')];
const IMAGE_SIZE = Number(arg('image-size', String(BACKBONE.imgSize)));
const JSON_OUT = arg('json', '');
const ROUNDS = Number(arg('rounds', '3'));

const PROMPTS = {
  deep: { tokens: 10, deep: true },
  shallow: { tokens: 10, deep: false },
  linear: null,
};

/** Random ViT-Ti/16 weights and one trainable-state file per task kind, in `dir`. */
async function writeTasks(dir) {
  const { name: _, ...shape } = BACKBONE;
  const weights = await writeRandomBackbone(join(dir, 'backbone'), { ...shape, seed: 1 });
  const tasks = {};
  for (const [i, kind] of KINDS.entries()) {
    const model = await createModel({
      weights,
      numClasses: 10,
      prompt: PROMPTS[kind],
      ...(kind === 'linear' ? { transfer: 'linear' } : {}),
      seed: i + 1,
      imageSize: IMAGE_SIZE,
      device: 'cpu',
      // (the task files are device-independent; the servers load them on DEVICE)
    });
    const path = join(dir, `task${i}-${kind}.safetensors`);
    await model.saveTrainable(path);
    model.dispose();
    tasks[`task${i}`] = path;
  }
  return { weights, tasks };
}

/** A `vpt-native serve` process with `tasks`; resolves once it listens. */
function startServer(weights, tasks) {
  const args = [join(dist, 'bin', 'launch.cjs'), 'serve', '--weights', weights, '--device', DEVICE, '--port', '0'];
  for (const [name, path] of Object.entries(tasks)) args.push('--task', `${name}=${path}`);
  args.push('--max-batch', MAX_BATCH, '--max-wait-ms', MAX_WAIT_MS, '--max-queue', '4096');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  return new Promise((resolvePromise, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const m = /listening on (\S+)/.exec(stderr);
      if (m) resolvePromise({ url: m[1], child });
    });
    child.on('exit', (code) => reject(new Error(`serve exited (${code}): ${stderr}`)));
  });
}

async function stopServer({ child }) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Peak resident memory of a process in bytes (VmHWM). */
function peakRss(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

/** autocannon against `url` cycling through `taskNames`. */
function load(url, taskNames, body, { connections, duration, overallRate }) {
  return autocannon({
    url,
    connections,
    duration,
    timeout: 120,
    ...(overallRate ? { overallRate } : {}),
    requests: taskNames.map((t) => ({
      method: 'POST',
      path: `/v1/tasks/${t}/predict`,
      headers: { 'content-type': 'image/jpeg' },
      body,
    })),
  });
}

/** The servers' CUDA caching-allocator reserved bytes (from /metrics), summed; null off CUDA. */
async function deviceBytes(servers) {
  if (!DEVICE.startsWith('cuda')) return null;
  let total = 0;
  for (const s of servers) {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    const m = /^vpt_serve_device_memory_bytes\{[^}]*kind="reserved"[^}]*\} (\S+)$/m.exec(text);
    total += m ? Number(m[1]) : Number.NaN;
  }
  return total;
}

function summary(results, servers) {
  const ok = results.reduce((n, r) => n + r['2xx'], 0);
  const seconds = Math.max(...results.map((r) => r.duration));
  return {
    imgPerSec: ok / seconds,
    p50: results.reduce((s, r) => s + r.latency.p50, 0) / results.length,
    p99: Math.max(...results.map((r) => r.latency.p99)),
    non2xx: results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0),
    rss: servers.reduce((n, s) => n + peakRss(s.child.pid), 0),
  };
}

/** Servers of `serverTasks` (one per entry), warmed up with a short run each. */
async function startServers(weights, serverTasks, runs) {
  const servers = [];
  for (const tasks of serverTasks) servers.push(await startServer(weights, tasks));
  await Promise.all(servers.map((s, i) => load(s.url, runs[i].tasks, body, { connections: 2, duration: 2 })));
  return servers;
}

/** One timed run: each server under its own load at once. */
async function measure(servers, runs) {
  const results = await Promise.all(
    servers.map((s, i) =>
      load(s.url, runs[i].tasks, body, {
        connections: runs[i].connections,
        duration: DURATION,
        overallRate: runs[i].overallRate,
      }),
    ),
  );
  return { ...summary(results, servers), deviceBytes: await deviceBytes(servers) };
}

function report(name, s) {
  console.log(
    `${name.padEnd(34)} ${s.imgPerSec.toFixed(1).padStart(7)} img/s  p50 ${s.p50.toFixed(1).padStart(6)} ms  p99 ${s.p99
      .toFixed(1)
      .padStart(6)} ms  RSS ${(s.rss / 2 ** 20).toFixed(0).padStart(5)} MiB${
      s.deviceBytes === null || s.deviceBytes === undefined
        ? ''
        : `  device ${(s.deviceBytes / 2 ** 20).toFixed(0)} MiB`
    }  non-2xx ${s.non2xx}`,
  );
  return s;
}

/** The round with the most img/s (the least disturbed by neighbours), with the servers' peak RSS now. */
function best(rounds, servers) {
  const top = rounds.reduce((x, y) => (y.imgPerSec > x.imgPerSec ? y : x));
  return { ...top, rss: servers.reduce((n, s) => n + peakRss(s.child.pid), 0), deviceBytes: top.deviceBytes };
}

const dir = await mkdtemp(join(tmpdir(), 'vpt-serve-bench-'));
let body;
try {
  const { weights, tasks } = await writeTasks(dir);
  const names = Object.keys(tasks);
  const w = 320,
    h = 240;
  const pixels = new Uint8Array(w * h * 3).map((_, i) => (i * 131 + ((i / 960) | 0) * 7) % 256);
  body = await sharp(pixels, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
  const info = runtimeInfo();
  console.log(
    `serve-load: ${BACKBONE.name} at ${IMAGE_SIZE} px on ${DEVICE}, tasks ${KINDS.join(',')} (10 classes each), ${CONNECTIONS} connections, ${DURATION} s, max-batch ${MAX_BATCH}, max-wait ${MAX_WAIT_MS} ms; LibTorch ${info.torchVersion}, ${info.cpuThreads} CPU threads`,
  );
  // (a) and (b) run alternately, ROUNDS times each, their servers up side by side, so that a
  // neighbour's load falls on both; each reports its best round.
  const mixedRuns = [{ tasks: names, connections: CONNECTIONS }];
  const singleRuns = [{ tasks: [names[0]], connections: CONNECTIONS }];
  const [mixed] = await startServers(weights, [tasks], mixedRuns);
  const [single] = await startServers(weights, [{ [names[0]]: tasks[names[0]] }], singleRuns);
  const roundsA = [];
  const roundsB = [];
  let a, b, p, rate;
  try {
    for (let r = 0; r < ROUNDS; r++) {
      roundsA.push(await measure([mixed], mixedRuns));
      roundsB.push(await measure([single], singleRuns));
    }
    a = report('(a) mixed: 4 tasks, one server', best(roundsA, [mixed]));
    b = report('(b) single: 1 task, one server', best(roundsB, [single]));
    rate = Math.max(1, Math.round(a.imgPerSec * RATE_FRACTION));
    p = report(`(p) mixed at ${rate} img/s offered`, await measure([mixed], [{ ...mixedRuns[0], overallRate: rate }]));
  } finally {
    await stopServer(mixed);
    await stopServer(single);
  }
  const splitRuns = names.map((n) => ({ tasks: [n], connections: Math.max(1, CONNECTIONS / names.length) }));
  const split = await startServers(
    weights,
    names.map((n) => ({ [n]: tasks[n] })),
    splitRuns,
  );
  let c;
  const roundsC = [];
  try {
    for (let r = 0; r < ROUNDS; r++) roundsC.push(await measure(split, splitRuns));
    c = report('(c) split: 4 servers of 1 task', best(roundsC, split));
  } finally {
    for (const s of split) await stopServer(s);
  }
  console.log(
    `(a)/(b): ${(a.imgPerSec / b.imgPerSec).toFixed(2)}x img/s (target >= 0.9), ${(a.rss / b.rss).toFixed(2)}x memory (target <= 1.15); (c)/(b) memory ${(c.rss / b.rss).toFixed(2)}x${
      a.deviceBytes
        ? `; device memory (a)/(b) ${(a.deviceBytes / b.deviceBytes).toFixed(2)}x, (c)/(b) ${(c.deviceBytes / b.deviceBytes).toFixed(2)}x`
        : ''
    }`,
  );
  if (JSON_OUT)
    await writeFile(
      JSON_OUT,
      JSON.stringify(
        {
          device: DEVICE,
          backbone: BACKBONE.name,
          imageSize: IMAGE_SIZE,
          connections: CONNECTIONS,
          maxBatch: Number(MAX_BATCH),
          a,
          b,
          c,
          p,
          rate,
          rounds: { a: roundsA, b: roundsB, c: roundsC },
        },
        null,
        2,
      ),
    );
} finally {
  await rm(dir, { recursive: true, force: true });
}
