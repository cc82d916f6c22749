// gpu-check section `prompt-scaling` (issue 22): VPT-deep's train and eval step ms as the prompts
// grow, with skipDiscardedPromptRows on (prompt rows get only LayerNorm, keys and values) and off
// (every row of every block but the last), and PyTorch eager (bench/torch_train_step.py, every
// row of every block) when `python3` imports torch on this machine, as scripts/gpu-check.mjs's
// torchStep runs it. bench/prompt-scaling.mjs is the CPU benchmark; this is its table on the device.
// CUDA: a random ViT-S/16 backbone at 224 px, batch 32, prompts 1, 10, 50, 100, 200, fp32 and
// bf16 (autocast), 3 warmup + 10 timed steps each; on and off step by step interleaved.
// quick (the CPU): the demo's tiny ViT at 32 px, prompts 1 and 10, PyTorch at fp32 10 only, in seconds.
// Checks: the first step's loss is the same on and off (the rows skipped are never read).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { median, randomImages } from '../../bench/stats.mjs';

export const title = 'VPT-deep prompt scaling: train / eval ms, skipDiscardedPromptRows on vs off, and PyTorch eager';

const execFileP = promisify(execFile);

/** Loss difference allowed between on and off on the first step (same weights, same batch). */
const LOSS_TOL = { fp32: 1e-4, bf16: 2e-2 };
/** PyTorch rows stop being run after this many seconds of the section, to stay near its ~120 s budget. */
const TORCH_BUDGET_S = 70;

/** On and off, interleaved step by step: median train / eval ms of each, and the first step's losses. */
async function ours(createModel, { weights, device, precision, tokens, batch, size, classes, warmup, steps }) {
  const images = { pixels: randomImages(batch * 3 * size * size), shape: [batch, 3, size, size] };
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 37) % classes);
  const models = [];
  try {
    for (const skipDiscardedPromptRows of [true, false]) {
      const model = await createModel({
        weights,
        numClasses: classes,
        prompt: { tokens, deep: true },
        device,
        precision,
        skipDiscardedPromptRows,
      });
      model.configureOptimizer({ optimizer: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
      models.push(model);
    }
    // The order swaps every round (on, off, then off, on): whatever the first step of a round
    // leaves behind for the second hits both alike (bench/prompt-scaling.mjs).
    const order = (i) => (i % 2 === 0 ? [0, 1] : [1, 0]);
    const firstLoss = [];
    const train = [[], []];
    for (let i = 0; i < warmup + steps; i++) {
      for (const k of order(i)) {
        const t0 = performance.now();
        const r = await models[k].trainStep(images, labels);
        if (i === 0) firstLoss[k] = r.loss;
        if (i >= warmup) train[k].push(performance.now() - t0);
      }
    }
    const evaluate = [[], []];
    for (let i = 0; i < warmup + steps; i++) {
      for (const k of order(i)) {
        const t0 = performance.now();
        await models[k].evaluate(images, labels);
        if (i >= warmup) evaluate[k].push(performance.now() - t0);
      }
    }
    return {
      on: { trainMs: median(train[0]), evalMs: median(evaluate[0]) },
      off: { trainMs: median(train[1]), evalMs: median(evaluate[1]) },
      lossOn: firstLoss[0],
      lossOff: firstLoss[1],
    };
  } finally {
    for (const m of models) m.dispose();
  }
}

/** PyTorch eager's step on this device, or why not (no python3 with torch, a failure). */
async function torchSide(root, { shape, device, precision, tokens, batch, size, patch, classes, warmup, steps }) {
  try {
    const args = [
      ...['--embed', shape.embedDim, '--depth', shape.depth, '--heads', shape.numHeads, '--batch', batch],
      ...['--tokens', tokens, '--img', size, '--patch', patch, '--classes', classes, '--precision', precision],
      ...['--device', device, '--warmup', warmup, '--steps', steps],
    ].map(String);
    const { stdout } = await execFileP('python3', [join(root, 'bench', 'torch_train_step.py'), ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    const r = JSON.parse(stdout.trim().split('\n').pop());
    return { trainMs: r.msPerStep, evalMs: r.evalMsPerStep, torch: r.torch };
  } catch (error) {
    return { error: String(error?.message ?? error).slice(0, 500) };
  }
}

export async function run({ device, quick, check, record, tmp, root }) {
  const { createModel } = await import(join(root, 'dist', 'lib', 'index.js'));
  const { writeRandomBackbone, DEMO_BACKBONE } = await import(join(root, 'dist', 'lib', 'demo', 'random-backbone.js'));
  const { computedTrainStepFlops } = await import(join(root, 'bench', 'flops.mjs'));
  const spec = quick ? DEMO_BACKBONE : { embedDim: 384, depth: 12, numHeads: 6, patchSize: 16, imgSize: 224, seed: 0 };
  const shape = { name: quick ? 'tiny ViT (dim 96, depth 4), 32 px' : 'random ViT-S/16, 224 px', ...spec };
  const weights = await writeRandomBackbone(join(tmp, 'prompt-scaling-backbone'), spec);
  const run = {
    device,
    batch: quick ? 4 : 32,
    size: spec.imgSize,
    patch: spec.patchSize,
    classes: 200,
    warmup: quick ? 1 : 3,
    steps: quick ? 2 : 10,
  };
  const tokensList = quick ? [1, 10] : [1, 10, 50, 100, 200];
  const started = performance.now();
  let torchAvailable = true;
  const rows = [];
  for (const precision of ['fp32', 'bf16']) {
    for (const tokens of tokensList) {
      const r = await ours(createModel, { ...run, weights, precision, tokens });
      let torch = null;
      // quick: PyTorch once (its start-up takes longer than the tiny steps), to test that path.
      const torchRow = quick ? precision === 'fp32' && tokens === tokensList.at(-1) : true;
      if (torchRow && torchAvailable && (performance.now() - started) / 1000 < TORCH_BUDGET_S) {
        torch = await torchSide(root, { ...run, shape: spec, precision, tokens });
        // No python3 with torch here: do not try again for every row.
        if (torch.error && /No module named|ENOENT/.test(torch.error)) torchAvailable = false;
      }
      const opts = { tokens, img: spec.imgSize, patch: spec.patchSize };
      const row = {
        precision,
        tokens,
        trainMsOn: r.on.trainMs,
        trainMsOff: r.off.trainMs,
        trainMsTorch: torch?.trainMs ?? null,
        evalMsOn: r.on.evalMs,
        evalMsOff: r.off.evalMs,
        evalMsTorch: torch?.evalMs ?? null,
        trainOnVsOff: r.off.trainMs / r.on.trainMs,
        trainOnPerTorch: torch?.trainMs ? r.on.trainMs / torch.trainMs : null,
        trainGflop: {
          on: computedTrainStepFlops(spec, run.batch, { ...opts, rows: 'kv-prompts' }) / 1e9,
          off: computedTrainStepFlops(spec, run.batch, { ...opts, rows: 'cls-last' }) / 1e9,
          torch: computedTrainStepFlops(spec, run.batch, { ...opts, rows: 'every-row' }) / 1e9,
        },
        torchVersion: torch?.torch ?? null,
        torchError: torch?.error ?? null,
      };
      rows.push(row);
      console.log(
        `prompt scaling ${precision} ${tokens} prompts: train on ${row.trainMsOn.toFixed(1)} / off ${row.trainMsOff.toFixed(1)}` +
          ` / PyTorch ${row.trainMsTorch?.toFixed(1) ?? '-'} ms (on vs off ${row.trainOnVsOff.toFixed(2)}x), eval on ` +
          `${row.evalMsOn.toFixed(1)} / off ${row.evalMsOff.toFixed(1)} / PyTorch ${row.evalMsTorch?.toFixed(1) ?? '-'} ms`,
      );
      const lossDiff = Math.abs(r.lossOn - r.lossOff);
      check(
        `prompt scaling ${precision} ${tokens} prompts: the first loss is the same on and off`,
        lossDiff <= LOSS_TOL[precision],
        {
          lossOn: r.lossOn,
          lossOff: r.lossOff,
          lossDiff,
          tolerance: LOSS_TOL[precision],
        },
      );
      await record('promptScaling', {
        backbone: shape.name,
        prompt: 'VPT-deep, SGD momentum',
        ...run,
        rows,
      });
    }
  }
}
