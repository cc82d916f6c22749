/**
 * The malloc policy set when the addon loads (lib/host-heap-policy.ts): what the environment asks
 * for, what reaches mallopt, and, in child processes with the real addon, that a kept heap holds
 * the freed buffers of an evaluation where glibc's defaults give them back.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

import { loadAddon, packageRoot } from '../lib/binding.js';
import { VptError } from '../lib/errors.js';
import { applyHostHeapPolicy, KEPT_HOST_HEAP, requestedHostHeapPolicy } from '../lib/host-heap-policy.js';
import { runtimeInfo } from '../lib/runtime-info.js';

const run = promisify(execFile);

describe('requestedHostHeapPolicy', () => {
  it('keeps the heap unless told not to', () => {
    expect(requestedHostHeapPolicy({}).mode).toBe('keep');
    expect(requestedHostHeapPolicy({ VPT_HOST_HEAP: 'keep' }).mode).toBe('keep');
    expect(requestedHostHeapPolicy({ VPT_HOST_HEAP: '' }).mode).toBe('keep');
    expect(requestedHostHeapPolicy({ VPT_HOST_HEAP: 'default' })).toEqual({
      mode: 'default',
      reason: "glibc's defaults (VPT_HOST_HEAP=default)",
    });
  });

  it("leaves the user's own malloc settings alone, naming them", () => {
    expect(requestedHostHeapPolicy({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=0' }).reason).toBe(
      'the malloc settings of GLIBC_TUNABLES',
    );
    expect(requestedHostHeapPolicy({ GLIBC_TUNABLES: 'glibc.rtld.nns=2:glibc.malloc.arena_max=1' }).mode).toBe(
      'default',
    );
    // Tunables of other namespaces are not malloc settings.
    expect(requestedHostHeapPolicy({ GLIBC_TUNABLES: 'glibc.rtld.nns=2' }).mode).toBe('keep');
    for (const name of ['MALLOC_TRIM_THRESHOLD_', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TOP_PAD_']) {
      expect(requestedHostHeapPolicy({ [name]: '0' })).toEqual({
        mode: 'default',
        reason: `the malloc settings of ${name}`,
      });
    }
  });

  it('refuses a value it does not know, naming the variable', () => {
    expect(() => requestedHostHeapPolicy({ VPT_HOST_HEAP: 'big' })).toThrow(VptError);
    expect(() => requestedHostHeapPolicy({ VPT_HOST_HEAP: 'big' })).toThrow(/VPT_HOST_HEAP: 'big'/);
  });
});

describe('applyHostHeapPolicy', () => {
  const keep = requestedHostHeapPolicy({});

  it('hands the three values to keepHostHeap and reports keep when they are taken', () => {
    const calls: number[][] = [];
    const addon = {
      keepHostHeap: (...a: number[]) => {
        calls.push(a);
        return true;
      },
    };
    expect(applyHostHeapPolicy(addon, keep)).toEqual(keep);
    expect(calls).toEqual([[KEPT_HOST_HEAP.mmapThreshold, KEPT_HOST_HEAP.trimThreshold, KEPT_HOST_HEAP.topPad]]);
  });

  it('reports the defaults when refused, when the addon cannot, and when asked for them', () => {
    expect(applyHostHeapPolicy({ keepHostHeap: () => false }, keep).mode).toBe('default');
    expect(applyHostHeapPolicy({}, keep).reason).toMatch(/cannot set them/);
    let called = false;
    const off = requestedHostHeapPolicy({ VPT_HOST_HEAP: 'default' });
    expect(applyHostHeapPolicy({ keepHostHeap: () => (called = true) }, off)).toEqual(off);
    expect(called).toBe(false);
  });
});

describe.runIf(process.platform === 'linux')('the host heap policy in a process (glibc)', () => {
  it('is applied when the addon loads and reported by runtimeInfo', () => {
    const expected = requestedHostHeapPolicy(process.env);
    expect(loadAddon().hostHeap).toEqual(expected);
    expect(runtimeInfo().hostHeap).toEqual(expected);
  });

  // Evaluates a ViT at 224 px (buffers of hundreds of KiB to MiBs, which glibc by default maps
  // apart and unmaps on free, or trims from the heap's top) and prints malloc's free bytes after.
  const probe = `
    const { createModel, runtimeInfo } = await import(${JSON.stringify(join(packageRoot, 'dist', 'lib', 'index.js'))});
    const { hostHeap } = await import(${JSON.stringify(join(packageRoot, 'dist', 'lib', 'host-heap.js'))});
    const { writeRandomBackbone } = await import(${JSON.stringify(join(packageRoot, 'dist', 'lib', 'demo', 'random-backbone.js'))});
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(tmpdir() + '/vpt-heap-');
    try {
      const weights = await writeRandomBackbone(dir, { embedDim: 32, depth: 1, numHeads: 2, imgSize: 224, patchSize: 16, seed: 0 });
      const model = await createModel({ weights, numClasses: 4, prompt: { tokens: 2, deep: true }, device: 'cpu' });
      const images = { pixels: new Float32Array(8 * 3 * 224 * 224).fill(0.1), shape: [8, 3, 224, 224] };
      for (let i = 0; i < 3; i++) await model.evaluate(images, Int32Array.from([0, 1, 2, 3, 0, 1, 2, 3]));
      console.log(JSON.stringify({ mode: runtimeInfo().hostHeap.mode, free: hostHeap().free }));
    } finally { rmSync(dir, { recursive: true, force: true }); }`;
  const freeAfterEval = async (env: NodeJS.ProcessEnv) => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], {
      env: { ...process.env, GLIBC_TUNABLES: '', MALLOC_TRIM_THRESHOLD_: undefined, ...env },
    });
    return JSON.parse(stdout.trim().split('\n').pop()!) as { mode: string; free: number };
  };

  it('keeps freed buffers for reuse, where glibc gives them back', async () => {
    const kept = await freeAfterEval({ VPT_HOST_HEAP: 'keep' });
    const given = await freeAfterEval({ VPT_HOST_HEAP: 'default' });
    expect(kept.mode).toBe('keep');
    expect(given.mode).toBe('default');
    // The evaluation's input batch alone is 4.6 MiB.
    expect(kept.free).toBeGreaterThan(4 * 2 ** 20);
    expect(given.free).toBeLessThan(kept.free / 2);
  }, 60_000);
});
