import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { DynamicBatcher } from '../../lib/serve/dynamic-batcher.js';
import { HttpError } from '../../lib/serve/http-error.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A batcher whose run doubles its items and records each batch. */
function doubling(options: { maxBatch: number; maxWaitMs: number; maxQueue: number }) {
  const batches: number[][] = [];
  const batcher = new DynamicBatcher<number, number>(options, async (items) => {
    batches.push(items);
    return items.map((x) => 2 * x);
  });
  return { batcher, batches };
}

describe('DynamicBatcher', () => {
  it('runs a batch as soon as max-batch requests wait, in order, each getting its own result', async () => {
    const { batcher, batches } = doubling({ maxBatch: 3, maxWaitMs: 1000, maxQueue: 10 });
    const results = Promise.all([1, 2, 3, 4].map((x) => batcher.submit(x, 60_000)));
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([[1, 2, 3]]);
    await vi.advanceTimersByTimeAsync(999);
    expect(batches).toEqual([[1, 2, 3]]);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([[1, 2, 3], [4]]);
    expect(await results).toEqual([2, 4, 6, 8]);
  });

  it('a lone request waits max-wait for company, then runs', async () => {
    const { batcher, batches } = doubling({ maxBatch: 8, maxWaitMs: 20, maxQueue: 10 });
    const first = batcher.submit(5, 60_000);
    await vi.advanceTimersByTimeAsync(10);
    const second = batcher.submit(6, 60_000);
    await vi.advanceTimersByTimeAsync(9);
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([[5, 6]]);
    expect([await first, await second]).toEqual([10, 12]);
  });

  it('refuses beyond max-queue with queue_full and Retry-After; a request past its deadline leaves the queue', async () => {
    const { batcher, batches } = doubling({ maxBatch: 8, maxWaitMs: 5000, maxQueue: 2 });
    const kept = batcher.submit(1, 60_000);
    const late = batcher.submit(2, 100);
    const full = await batcher.submit(3, 60_000).catch((e: HttpError) => e);
    expect(full).toBeInstanceOf(HttpError);
    expect(full).toMatchObject({ status: 503, code: 'queue_full', headers: { 'retry-after': '10' } });
    const lateError = late.catch((e: HttpError) => e);
    await vi.advanceTimersByTimeAsync(100);
    expect(await lateError).toMatchObject({ status: 504, code: 'deadline_exceeded' });
    expect(batcher.depth).toBe(1);
    await vi.advanceTimersByTimeAsync(4900);
    expect(batches).toEqual([[1]]);
    expect(await kept).toBe(2);
    await expect(batcher.drain()).resolves.toBeUndefined();
  });

  it("a failed run rejects its batch's requests with the run's error, and the next batch still runs", async () => {
    let calls = 0;
    const batcher = new DynamicBatcher<number, number>({ maxBatch: 1, maxWaitMs: 0, maxQueue: 10 }, async (items) => {
      calls++;
      if (calls === 1) throw new Error('model failed');
      return items;
    });
    const a = batcher.submit(1, 60_000).catch((e: Error) => e.message);
    const b = batcher.submit(2, 60_000);
    await vi.advanceTimersByTimeAsync(0);
    expect(await a).toBe('model failed');
    expect(await b).toBe(2);
  });
});
