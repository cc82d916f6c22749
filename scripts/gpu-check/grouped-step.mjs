// tune's stacked group step on the device: k configs sharing one backbone step together in one
// native call against the same configs stepped one after another (bench/group-step.mjs's
// measureGroupStep), img/s both ways, and the losses of the two ways equal to float rounding.
// CUDA: a random ViT-B/16 backbone at 224 px, VPT-deep 10 prompts, fp32, 4 x 32 and 8 x 8.
// quick (the CPU): the demo's tiny ViT at 32 px, in seconds.
import { join } from 'node:path';

export const title = "tune's stacked group step: img/s stacked vs one after another, and equal losses";

/** The largest loss difference the two ways may show (fp32; batched against single matmuls). */
const LOSS_TOL = 1e-4;

export async function run({ device, quick, check, record, tmp, root }) {
  const { writeRandomBackbone, DEMO_BACKBONE } = await import(join(root, 'dist/lib/demo/random-backbone.js'));
  const { measureGroupStep } = await import(join(root, 'bench/group-step.mjs'));
  const spec = quick ? DEMO_BACKBONE : { embedDim: 768, depth: 12, numHeads: 12, patchSize: 16, imgSize: 224, seed: 0 };
  const weights = await writeRandomBackbone(join(tmp, 'grouped-step-backbone'), spec);
  const results = [];
  for (const [k, B] of [
    [4, 32],
    [8, 8],
  ]) {
    const r = await measureGroupStep({
      weights,
      imageSize: spec.imgSize,
      k,
      B,
      rounds: quick ? 3 : 5,
      warmup: 2,
      device,
      prompt: { tokens: 10, deep: true },
    });
    results.push(r);
    console.log(
      `grouped step ${k} x ${B}: stacked ${r.stackedImgPerS.toFixed(0)} img/s (${r.stackedMs.toFixed(1)} ms), ` +
        `one after another ${r.separateImgPerS.toFixed(0)} img/s (${r.separateMs.toFixed(1)} ms): ${r.speedup.toFixed(2)}x; ` +
        `max loss difference ${r.lossDiff.toExponential(1)}`,
    );
    check(`grouped step ${k} x ${B}: stacked losses equal one after another's`, r.lossDiff <= LOSS_TOL, {
      lossDiff: r.lossDiff,
      tolerance: LOSS_TOL,
    });
  }
  await record('groupedStep', {
    backbone: quick ? 'tiny ViT (dim 96, depth 4), 32 px' : 'random ViT-B/16, 224 px',
    prompt: 'VPT-deep, 10 tokens, fp32',
    results,
  });
}
