// tune's stacked group step against the same configs stepped one after another: k models that
// share one random ViT backbone (as a tune group's trials do), each with its own prompts, head
// and optimizer settings, train on one batch of B images. Both ways are timed in turn, round
// after round, on two copies of the group (the same configs), in one process; medians. The
// losses of the two ways are compared too (they must agree to float rounding).
//   npm run build:ts && node bench/group-step.mjs [kxB ...] [--rounds N] [--deep] [--tokens N] [--linear] [--device cpu|cuda] [--vit-b]
// Default: 4x32 8x8 4x8 2x32 on the demo's tiny ViT at 32 px (bench/tune-grid.mjs's), VPT-shallow 5 prompts.
// scripts/gpu-check/grouped-step.mjs runs measureGroupStep on CUDA with a ViT-B/16-sized backbone.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

/**
 * Median ms of one group step (every model once) stacked and one after another, the img/s each
 * way, and the largest difference of any model's loss between the ways over the timed steps.
 * `weights`: a backbone folder; `lr` per model is 0.01 x (i + 1) so the configs differ.
 */
export async function measureGroupStep({
  weights,
  imageSize,
  k,
  B,
  rounds = 10,
  warmup = 2,
  device = 'cpu',
  prompt,
  transfer = 'prompt',
}) {
  const { createModel, createModelSharingBackbone } = await import(join(dist, 'lib/model/create-model.js'));
  const { trainStepGrouped } = await import(join(dist, 'lib/model/grouped-step.js'));
  const { median, randomImages } = await import(join(root, 'bench', 'stats.mjs'));
  const options = (seed) => ({
    weights,
    numClasses: 10,
    imageSize,
    device,
    seed,
    ...(transfer === 'linear' ? { transfer } : { prompt }),
  });
  const source = await createModel(options(0));
  const made = [source];
  try {
    const copy = async () => {
      const group = [];
      for (let i = 0; i < k; i++) {
        const m = await createModelSharingBackbone(options(i + 1), source);
        made.push(m);
        m.configureOptimizer({ optimizer: 'sgd', lr: 0.01 * (i + 1), momentum: 0.9, weightDecay: i % 2 ? 1e-3 : 0 });
        group.push(m);
      }
      return group;
    };
    const stackedGroup = await copy();
    const separateGroup = await copy();
    const input = { pixels: randomImages(B * 3 * imageSize * imageSize), shape: [B, 3, imageSize, imageSize] };
    const labels = Int32Array.from({ length: B }, (_, i) => i % 10);
    const stacked = [],
      separate = [];
    let lossDiff = 0;
    for (let r = 0; r < rounds + warmup; r++) {
      let t0 = performance.now();
      const a = await trainStepGrouped(stackedGroup, input, labels);
      const ta = performance.now() - t0;
      t0 = performance.now();
      const b = [];
      for (const m of separateGroup) b.push(await m.trainStep(input, labels));
      const tb = performance.now() - t0;
      for (let i = 0; i < k; i++) {
        if (a[i] instanceof Error) throw a[i];
        lossDiff = Math.max(lossDiff, Math.abs(a[i].loss - b[i].loss));
      }
      if (r >= warmup) {
        stacked.push(ta);
        separate.push(tb);
      }
    }
    const s = median(stacked),
      t = median(separate);
    return {
      k,
      B,
      stackedMs: s,
      separateMs: t,
      stackedImgPerS: ((k * B) / s) * 1000,
      separateImgPerS: ((k * B) / t) * 1000,
      speedup: t / s,
      lossDiff,
      rounds,
    };
  } finally {
    for (const m of made) m.dispose();
  }
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const args = process.argv.slice(2);
  const flag = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : fallback;
  };
  const rounds = Number(flag('--rounds', 10));
  const device = flag('--device', 'cpu');
  const tokens = Number(flag('--tokens', 5));
  const deep = args.includes('--deep');
  const linear = args.includes('--linear');
  const vitB = args.includes('--vit-b');
  const shapes = args.filter((a) => /^\d+x\d+$/.test(a));
  const { writeRandomBackbone, DEMO_BACKBONE } = await import(join(dist, 'lib/demo/random-backbone.js'));
  const dir = await mkdtemp(join(tmpdir(), 'vpt-group-step-'));
  try {
    const spec = vitB
      ? { embedDim: 768, depth: 12, numHeads: 12, patchSize: 16, imgSize: 224, seed: 0 }
      : DEMO_BACKBONE;
    const weights = await writeRandomBackbone(join(dir, 'backbone'), spec);
    console.log(
      `stacked group step vs one after another: ${vitB ? 'ViT-B/16 224 px' : 'tiny ViT (dim 96, depth 4) 32 px'}, ` +
        `${linear ? 'linear probing' : `VPT-${deep ? 'deep' : 'shallow'} ${tokens} prompts`}, ${device}, medians of ${rounds} rounds`,
    );
    for (const s of shapes.length ? shapes : ['4x32', '8x8', '4x8', '2x32']) {
      const [k, B] = s.split('x').map(Number);
      const r = await measureGroupStep({
        weights,
        imageSize: spec.imgSize,
        k,
        B,
        rounds,
        device,
        prompt: { tokens, deep },
        transfer: linear ? 'linear' : 'prompt',
      });
      console.log(
        `| ${k} x ${B} | ${r.separateMs.toFixed(1)} ms (${r.separateImgPerS.toFixed(0)} img/s) | ` +
          `${r.stackedMs.toFixed(1)} ms (${r.stackedImgPerS.toFixed(0)} img/s) | ${r.speedup.toFixed(2)}x | ${r.lossDiff.toExponential(1)} |`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
