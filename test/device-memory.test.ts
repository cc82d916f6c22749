/** deviceMemory(): the CUDA allocator's counters, null where there is no CUDA. */
import { describe, expect, it } from 'vitest';

import { createModel, deviceMemory, runtimeInfo } from '../lib/index.js';
import { TINY_NUM_CLASSES, TINY_VIT } from './helpers/common.js';

describe('deviceMemory', () => {
  it('is null on the CPU and without CUDA; a malformed device is named', () => {
    expect(deviceMemory('cpu')).toBeNull();
    if (!runtimeInfo().cudaAvailable) expect(deviceMemory('cuda')).toBeNull();
    expect(() => deviceMemory('gpu0')).toThrow(/Invalid option "device".*"gpu0"/);
  });

  it.runIf(runtimeInfo().cudaAvailable)('counts a model on the GPU and its peak', async () => {
    const before = deviceMemory('cuda:0', { resetPeak: true })!;
    const model = await createModel({
      weights: TINY_VIT,
      numClasses: TINY_NUM_CLASSES,
      device: 'cuda:0',
      prompt: { tokens: 5, deep: true },
    });
    const loaded = deviceMemory('cuda:0')!;
    expect(loaded.allocated).toBeGreaterThan(before.allocated);
    expect(loaded.peakAllocated).toBeGreaterThanOrEqual(loaded.allocated);
    model.dispose();
  });
});
