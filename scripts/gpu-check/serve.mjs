// gpu-check section `serve` (issue 17): one backbone, many tasks, on CUDA.
// 1. A mixed-task batch on CUDA equals each task's single-task CUDA forward (and the CPU's).
// 2. bench/serve-load.mjs on CUDA: (a) 4 VPT-deep tasks mixed on one server, (b) one task on
//    one server, (c) 4 one-task servers, (p) (a) at half its img/s: img/s, p50 / p99, host RSS
//    and device memory. ViT-B/16 at 224 px on the GPU; the demo's tiny ViT with ctx.quick.
// 3. Before 2: tasks of three prompt shapes, one pass per shape against a lower bound of
//    pad-and-mask (bench/serve-grouping.mjs), at batches 8, 32 and 128.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const title = 'serve: mixed-task batches on the device, and the 4-task load benchmark';

const run_ = promisify(execFile);
const maxAbsDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

/** Task shapes on the tiny fixture ViT: two deep tasks of one prompt shape, a shallow one, a linear probe. */
const TASKS = [
  { name: 'deep-a', prompt: { tokens: 3, deep: true, project: 8 }, numClasses: 7, mlpLayers: 1, seed: 1 },
  { name: 'deep-b', prompt: { tokens: 3, deep: true }, numClasses: 5, seed: 2 },
  { name: 'shallow', prompt: { tokens: 2 }, numClasses: 4, seed: 3 },
  { name: 'linear', prompt: null, numClasses: 6, seed: 4 },
];

async function parity({ device, check, record, tmp, root }) {
  const { createModel } = await import(join(root, 'dist', 'lib', 'index.js'));
  const { MultiTaskModel } = await import(join(root, 'dist', 'lib', 'model', 'multi-task-model.js'));
  const weights = join(root, 'test', 'fixtures', 'tiny_vit');
  const S = 32;
  const n = 4;
  const pixels = new Float32Array(n * 3 * S * S).map((_, i) => Math.sin(i * 0.37) * 1.5);
  const shape = [n, 3, S, S];
  const single = new Map();
  const cpu = new Map();
  for (const spec of TASKS) {
    const options = {
      weights,
      numClasses: spec.numClasses,
      prompt: spec.prompt,
      ...(spec.prompt === null ? { transfer: 'linear' } : {}),
      mlpLayers: spec.mlpLayers ?? 0,
      seed: spec.seed,
    };
    const onCpu = await createModel({ ...options, device: 'cpu' });
    const path = join(tmp, `serve-${spec.name}.safetensors`);
    await onCpu.saveTrainable(path);
    cpu.set(spec.name, await onCpu.forward({ pixels, shape }));
    onCpu.dispose();
    const onDevice = await createModel({ ...options, device, trainable: path });
    single.set(spec.name, { logits: await onDevice.forward({ pixels, shape }), path });
    onDevice.dispose();
  }
  const multi = await MultiTaskModel.create({ weights, device });
  try {
    for (const spec of TASKS) await multi.addTask(spec.name, single.get(spec.name).path);
    const requests = [];
    for (let i = 0; i < n; i++) for (const spec of TASKS) requests.push({ image: (i * 3 + 1) % n, task: spec.name });
    requests.reverse();
    const out = await multi.forwardF32({ pixels, shape }, requests);
    let vsSingle = 0;
    let vsCpu = 0;
    requests.forEach((r, k) => {
      const C = TASKS.find((t) => t.name === r.task).numClasses;
      const slice = (m) => m.get(r.task).subarray(r.image * C, (r.image + 1) * C);
      vsSingle = Math.max(vsSingle, maxAbsDiff(out[k], slice(new Map([[r.task, single.get(r.task).logits]]))));
      vsCpu = Math.max(vsCpu, maxAbsDiff(out[k], slice(cpu)));
    });
    const detail = { device, requests: requests.length, maxDiffVsSingleTask: vsSingle, maxDiffVsCpu: vsCpu };
    await record('serveParity', detail);
    // 1e-5 as in test/model/multi-task-forward.test.ts; against the CPU 1e-4 (other kernels).
    check(
      'serve: a mixed-task batch equals each task’s single-task forward (1e-5; CPU 1e-4)',
      vsSingle < 1e-5 && vsCpu < 1e-4,
      detail,
    );
  } finally {
    multi.dispose();
  }
}

async function load({ device, quick, check, record, tmp, root }) {
  const json = join(tmp, 'serve-load.json');
  const args = quick
    ? ['--backbone', 'tiny', '--duration', '2', '--rounds', '1', '--connections', '8', '--max-batch', '8']
    : ['--backbone', 'b', '--duration', '8', '--rounds', '2', '--connections', '64', '--max-batch', '32'];
  const { stdout } = await run_(
    process.execPath,
    [join(root, 'bench', 'serve-load.mjs'), ...args, '--device', device, '--json', json],
    { timeout: (quick ? 300 : 200) * 1000, maxBuffer: 1 << 24 },
  );
  console.log(stdout.trim());
  const result = JSON.parse(await readFile(json, 'utf8'));
  await record('serveLoad', result);
  const ratio = result.a.imgPerSec / result.b.imgPerSec;
  const detail = {
    backbone: result.backbone,
    mixedImgPerSec: result.a.imgPerSec,
    singleImgPerSec: result.b.imgPerSec,
    splitImgPerSec: result.c.imgPerSec,
    ratio,
    p99AtHalfLoad: result.p.p99,
    offered: result.rate,
    deviceBytes: { a: result.a.deviceBytes, b: result.b.deviceBytes, c: result.c.deviceBytes },
    non2xx: result.a.non2xx + result.b.non2xx + result.c.non2xx,
  };
  check('serve load: every request answered 2xx', detail.non2xx === 0, detail);
  // The target, (a) >= 0.9x (b): judged on the GPU only; a short CPU run (quick) only
  // records the ratio.
  if (!quick) check('serve load: mixed 4-task img/s >= 0.9x one task alone', ratio >= 0.9, detail);
}

/**
 * Grouping (a pass per prompt shape) against the bound of pad-and-mask (every request at the
 * largest shape, one pass): bench/serve-grouping.mjs. Recorded, not judged: it says which the
 * GPU would favour.
 */
async function grouping({ device, quick, record, root }) {
  const rows = [];
  for (const batch of quick ? [16] : [8, 32, 128]) {
    const { stdout } = await run_(
      process.execPath,
      [
        join(root, 'bench', 'serve-grouping.mjs'),
        '--backbone',
        quick ? 'tiny' : 'b',
        '--tokens',
        '10,5,1',
        '--batch',
        String(batch),
        '--steps',
        quick ? '10' : '20',
        '--device',
        device,
      ],
      { timeout: 120 * 1000, env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' } },
    );
    rows.push(JSON.parse(stdout.trim().split('\n').pop()));
  }
  console.log(JSON.stringify(rows));
  await record('serveGrouping', rows);
}

export async function run(ctx) {
  await parity(ctx);
  await grouping(ctx);
  await load(ctx);
}
