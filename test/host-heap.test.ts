/** The C heap's counters and trim (lib/host-heap.ts): glibc's mallinfo2 and malloc_trim through the addon. */
import { describe, expect, it } from 'vitest';

import { hostHeap, trimHostHeap } from '../lib/host-heap.js';

describe.runIf(process.platform === 'linux')('host heap (glibc)', () => {
  it('reports live and free malloc bytes, and trims', () => {
    const before = hostHeap();
    expect(before).not.toBeNull();
    // LibTorch and the addon are loaded: megabytes are live.
    expect(before!.inUse).toBeGreaterThan(2 ** 20);
    expect(before!.free).toBeGreaterThanOrEqual(0);
    expect(typeof trimHostHeap()).toBe('boolean');
    expect(hostHeap()!.inUse).toBeGreaterThan(0);
  });
});
