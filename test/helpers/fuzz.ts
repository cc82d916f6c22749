/**
 * Seeded input generation for the weight-file fuzzers: reproducible by default, another seed or
 * more runs through VPT_FUZZ_SEED / VPT_FUZZ_RUNS. A failure names the seed and the input index.
 */
import { expect } from 'vitest';

import { VptError } from '../../lib/index.js';

export const FUZZ_SEED = Number(process.env.VPT_FUZZ_SEED ?? 0x5eed_2024);
export const FUZZ_RUNS = Math.max(1000, Number(process.env.VPT_FUZZ_RUNS ?? 1000));

/** xorshift32: a deterministic stream of uint32s. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 1;
  }
  next(): number {
    let s = this.#s;
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    this.#s = s;
    return s;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

/** Values that sit on the edges parsers get wrong. */
const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0xffffffff, 0x10000, 0x100000];

/** A position biased towards the first and last 4 KiB, where headers and zip directories live. */
function position(rng: Rng, length: number): number {
  if (length === 0) return 0;
  if (rng.chance(0.4)) return rng.int(Math.min(length, 4096));
  if (rng.chance(0.4)) return Math.max(0, length - 1 - rng.int(Math.min(length, 4096)));
  return rng.int(length);
}

/** One to four random mutations of `input` (which is not modified). */
export function mutate(input: Uint8Array, rng: Rng): Uint8Array {
  let b = Buffer.from(input);
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    const at = position(rng, b.length);
    switch (rng.int(8)) {
      case 0: // flip a bit
        if (b.length) b[at] = b[at]! ^ (1 << rng.int(8));
        break;
      case 1: // an interesting or random byte
        if (b.length) b[at] = rng.chance(0.5) ? rng.pick(INTERESTING) & 0xff : rng.int(256);
        break;
      case 2: // truncate
        b = b.subarray(0, rng.int(b.length + 1));
        break;
      case 3: // append random bytes
        b = Buffer.concat([b, rng.bytes(1 + rng.int(64))]);
        break;
      case 4: {
        // delete a range
        const n = 1 + rng.int(32);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
        break;
      }
      case 5: {
        // insert a copy of another range
        const from = rng.int(b.length + 1);
        b = Buffer.concat([b.subarray(0, at), b.subarray(from, from + 1 + rng.int(32)), b.subarray(at)]);
        break;
      }
      case 6: {
        // an interesting little-endian 32-bit integer
        if (at + 4 <= b.length) b.writeUInt32LE((rng.chance(0.5) ? rng.pick(INTERESTING) : rng.next()) >>> 0, at);
        break;
      }
      default: {
        // another digit, where the text has numbers (JSON offsets, npy shapes)
        const digit = b.indexOf(0x30 + rng.int(10), at);
        if (digit >= 0) b[digit] = 0x30 + rng.int(10);
      }
    }
  }
  return b;
}

/** Runs `check`, which must pass or fail with a VptError of one of `codes`; returns its duration. */
export async function expectCodedOrOk(
  codes: string[],
  label: string,
  check: () => Promise<unknown>,
): Promise<{ ok: boolean; ms: number }> {
  const start = performance.now();
  try {
    await check();
    return { ok: true, ms: performance.now() - start };
  } catch (error) {
    if (!(error instanceof VptError) || !codes.includes(error.code)) {
      expect.fail(
        `${label}: expected a VptError (${codes.join(' | ')}), got ${String((error as Error)?.stack ?? error)}`,
      );
    }
    return { ok: false, ms: performance.now() - start };
  }
}

/** Peak resident memory growth, sampled while `run` goes. */
export async function peakRssGrowth(run: () => Promise<void>): Promise<number> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  try {
    await run();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage().rss) - before;
}
