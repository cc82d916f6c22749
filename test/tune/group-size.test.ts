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

  it('reads the free host memory on the CPU', () => {
    expect(freeBytes('cpu')).toBeGreaterThan(0);
  });
});
