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
void import('./vpt-native.js');
