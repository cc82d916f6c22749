#!/usr/bin/env node
// Peak host memory of VPT-deep training steps with and without activation checkpointing
// (ViT-Ti/16 shapes, random backbone, 224 px, batch 16, 10 prompts), each in a fresh process.
// Usage (after `npm ci`): node bench/checkpoint-memory.mjs
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeRandomBackbone } from '../dist/lib/demo/random-backbone.js';
import { createModel } from '../dist/lib/index.js';

const BATCH = 16;
if (process.argv[2] === '--child') {
  const [, , , weights, checkpointBlocks] = process.argv;
  const x = new Float32Array(BATCH * 3 * 224 * 224).map((_, i) => Math.sin(i));
  const y = Int32Array.from({ length: BATCH }, (_, i) => i % 10);
  const m = await createModel({
    weights,
    numClasses: 10,
    prompt: { tokens: 10, deep: true },
    device: 'cpu',
    checkpointBlocks: checkpointBlocks === 'true',
  });
  m.configureOptimizer({ optimizer: 'sgd', lr: 0.01 });
  const before = process.resourceUsage().maxRSS;
  const t0 = performance.now();
  for (let i = 0; i < 3; i++) await m.trainStep({ pixels: x, shape: [BATCH, 3, 224, 224] }, y);
  console.log(
    JSON.stringify({
      before: before / 1024,
      peak: process.resourceUsage().maxRSS / 1024,
      msPerStep: (performance.now() - t0) / 3,
    }),
  );
} else {
  const dir = await mkdtemp(join(tmpdir(), 'vpt-ckpt-'));
  try {
    const weights = await writeRandomBackbone(join(dir, 'vit'), {
      embedDim: 192,
      depth: 12,
      numHeads: 3,
      patchSize: 16,
      imgSize: 224,
      seed: 0,
    });
    console.log('| activation checkpointing | peak RSS MiB (after model load) | ms/step |\n|---|---|---|');
    for (const ck of ['false', 'true']) {
      const r = JSON.parse(
        execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', weights, ck], { encoding: 'utf8' }),
      );
      console.log(
        `| ${ck === 'true' ? 'on' : 'off'} | ${r.peak.toFixed(0)} (${r.before.toFixed(0)}) | ${r.msPerStep.toFixed(0)} |`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
