#!/usr/bin/env node
/**
 * The `vpt-native` executable. Sizes libuv's thread pool before anything uses it (image decodes
 * and native calls share that pool; Node's default of 4 starves a many-core machine), then
 * starts the ESM command line. An ESM entry point cannot do this: the pool may already be up
 * by the time its body runs.
 */
import { availableParallelism } from 'node:os';

if (!process.env.UV_THREADPOOL_SIZE) {
  process.env.UV_THREADPOOL_SIZE = String(Math.min(64, Math.max(4, availableParallelism() + 2)));
}
// `serve` shares the CPU between the model, the image decoders and HTTP: OpenMP workers that
// spin while they wait (libgomp's default) take the cores the others need: a tiny ViT's
// batches took about 17x longer on a loaded 2-core machine (bench/RESULTS.md). libgomp reads this
// when the addon loads LibTorch, so it is set here, before anything loads it.
if (process.argv[2] === 'serve' && !process.env.OMP_WAIT_POLICY) {
  process.env.OMP_WAIT_POLICY = 'PASSIVE';
}
void import('./vpt-native.js');
