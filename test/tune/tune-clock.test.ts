/** A tune's wall time over its calls: calls.json keeps each call's seconds; a resumed call adds its own. */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TuneClock } from '../../lib/tune/tune-clock.js';
import { tempDir } from '../helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

/** A clock reading `t` milliseconds, moved by hand. */
const fakeTime = () => {
  const time = { t: 0, now: () => time.t };
  return time;
};
const savedCalls = async (path: string) =>
  (JSON.parse(await readFile(path, 'utf8')) as { calls: Array<{ seconds: number }> }).calls.map((c) => c.seconds);

describe('TuneClock', () => {
  it("sums the seconds of every call of a resumed tune, the running call's included", async () => {
    const path = join(tmp.dir, 'calls.json');
    const time = fakeTime();
    const first = await TuneClock.open(path, false, 0, time.now);
    time.t = 30_000;
    expect(first.seconds).toBe(30);
    await first.save();
    expect(await savedCalls(path)).toEqual([30]);

    time.t = 100_000;
    const second = await TuneClock.open(path, true, 100_000, time.now);
    time.t = 112_500;
    expect(second.callSeconds).toBe(12.5);
    expect(second.seconds).toBe(42.5);
    await second.save();
    expect(await savedCalls(path)).toEqual([30, 12.5]);

    // Not a resume (a new or replaced tune): the earlier calls are not counted.
    const fresh = await TuneClock.open(path, false, 112_500, time.now);
    expect(fresh.seconds).toBe(0);
  });

  it('saves the running call at most every 2 s on ticks, so a killed call counts up to its last save', async () => {
    const path = join(tmp.dir, 'ticks.json');
    const time = fakeTime();
    const clock = await TuneClock.open(path, false, 0, time.now);
    time.t = 2_500;
    await clock.save();
    time.t = 3_000;
    clock.tick(); // 0.5 s after the last save: not saved
    await new Promise((done) => setTimeout(done, 50));
    expect(await savedCalls(path)).toEqual([2.5]);
    time.t = 5_000;
    clock.tick();
    await new Promise((done) => setTimeout(done, 50));
    expect(await savedCalls(path)).toEqual([5]);
    // The next call after the "kill" starts from what was saved.
    const resumed = await TuneClock.open(path, true, 9_000, time.now);
    time.t = 10_000;
    expect(resumed.seconds).toBe(6);
  });

  it('counts no earlier time from a tune folder without a readable calls.json', async () => {
    const path = join(tmp.dir, 'broken.json');
    await writeFile(path, '{ not json');
    const time = fakeTime();
    const clock = await TuneClock.open(path, true, 0, time.now);
    time.t = 1_000;
    expect(clock.seconds).toBe(1);
    expect((await TuneClock.open(join(tmp.dir, 'absent.json'), true, 0, time.now)).seconds).toBe(1);
  });
});
