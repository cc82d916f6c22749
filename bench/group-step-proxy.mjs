// Would stacking a tune group's steps into one native call pay on the CPU? A proxy: k train steps
// of batch B (how a group of k configs steps now, one after another) against one train step of
// batch k x B on one model (what a stacked step would compute, less its per-config prompt and
// head gathers, which only add work). If the big step is not faster per image, a stacked step
// would not be either.
//   npm run build:ts && node bench/group-step-proxy.mjs [k=4] [B=32] [rounds=20]
// Model: the demo's tiny random ViT at 32 px (bench/tune-grid.mjs's), VPT-shallow 5 prompts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const { createModel, createModelSharingBackbone } = await import(join(dist, 'lib/model/create-model.js'));
const { writeRandomBackbone, DEMO_BACKBONE } = await import(join(dist, 'lib/demo/random-backbone.js'));
const { median } = await import(join(root, 'bench', 'stats.mjs'));

const k = Number(process.argv[2] ?? 4);
const B = Number(process.argv[3] ?? 32);
const rounds = Number(process.argv[4] ?? 20);
const dir = await mkdtemp(join(tmpdir(), 'vpt-stack-'));
try {
  const weights = await writeRandomBackbone(join(dir, 'backbone'), DEMO_BACKBONE);
  const options = (seed) => ({
    weights,
    numClasses: 5,
    imageSize: 32,
    prompt: { tokens: 5, deep: false },
    device: 'cpu',
    seed,
  });
  const source = await createModel(options(0));
  const group = [];
  for (let i = 0; i < k; i++) group.push(await createModelSharingBackbone(options(i + 1), source));
  const big = await createModelSharingBackbone(options(99), source);
  for (const m of [...group, big]) m.configureOptimizer({ optimizer: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 0 });
  const batch = (n) => {
    const pixels = new Float32Array(n * 3 * 32 * 32);
    for (let i = 0; i < pixels.length; i++) pixels[i] = Math.sin(i * 0.37);
    return { pixels, shape: [n, 3, 32, 32], labels: Int32Array.from({ length: n }, (_, i) => i % 5) };
  };
  const small = batch(B);
  const large = batch(k * B);
  const separate = [];
  const stacked = [];
  for (let r = 0; r < rounds + 2; r++) {
    let t0 = performance.now();
    for (const m of group) await m.trainStep({ pixels: small.pixels, shape: small.shape }, small.labels);
    const a = performance.now() - t0;
    t0 = performance.now();
    await big.trainStep({ pixels: large.pixels, shape: large.shape }, large.labels);
    const b = performance.now() - t0;
    if (r >= 2) {
      separate.push(a);
      stacked.push(b);
    }
  }
  const s = median(separate);
  const t = median(stacked);
  console.log(
    `k ${k} x batch ${B}: ${k} steps one after another ${s.toFixed(1)} ms (${(((k * B) / s) * 1000).toFixed(0)} img/s); ` +
      `one step of batch ${k * B} ${t.toFixed(1)} ms (${(((k * B) / t) * 1000).toFixed(0)} img/s); stacked / separate ${(s / t).toFixed(2)}x (medians of ${rounds} rounds)`,
  );
  for (const m of [source, ...group, big]) m.dispose();
} finally {
  await rm(dir, { recursive: true, force: true });
}
