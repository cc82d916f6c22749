/** The group size: as many trial models as half the free memory holds, between 1 and the trials. */
import { describe, expect, it } from 'vitest';

import { freeBytes, groupSizeFor, trialModelBytes } from '../../lib/tune/group-size.js';

describe('group size', () => {
  it("counts a trial model's backbone copy and its trainable tensors with their gradient and optimizer state", () => {
    expect(trialModelBytes({ backboneBytes: 1000, trainableParams: 10 })).toBe(1000 + 10 * 16);
  });

  it('fits the models in half the free memory, at least 1 and at most the trials', () => {
    const vitB = trialModelBytes({ backboneBytes: 343e6, trainableParams: 200e3 });
    expect(groupSizeFor(36, vitB, 8e9)).toBe(11);
    expect(groupSizeFor(36, vitB, 100e6)).toBe(1);
    expect(groupSizeFor(36, 1e6, 64e9)).toBe(36);
    expect(groupSizeFor(4, 0, 1e9)).toBe(4);
  });

  it("counts a shared backbone once for the group, not in each trial's bytes", () => {
    const info = { backboneBytes: 343e6, trainableParams: 200e3 };
    expect(trialModelBytes(info, true)).toBe(200e3 * 16);
    // 4 GB for the group: one 343 MB backbone leaves room for every one of 36 trials' 3.2 MB.
    expect(groupSizeFor(36, trialModelBytes(info, true), 8e9, info.backboneBytes)).toBe(36);
    expect(groupSizeFor(36, trialModelBytes(info, true), 0.7e9, info.backboneBytes)).toBe(2);
    // Less than the backbone itself: still one trial.
    expect(groupSizeFor(36, trialModelBytes(info, true), 0.5e9, info.backboneBytes)).toBe(1);
  });

  it('reads the free host memory on the CPU', () => {
    expect(freeBytes('cpu')).toBeGreaterThan(0);
  });
});
