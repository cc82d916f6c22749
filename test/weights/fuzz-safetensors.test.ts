/**
 * Fuzzes the safetensors reader with random and mutated files: every input must be accepted
 * (and then obey the format's invariants and load, or be refused, natively) or refused with a
 * VPT_WEIGHTS error — no crash, no hang, no allocation beyond the file's size.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createModel, readSafetensors, readSafetensorsHeader } from '../../lib/index.js';
import { parseSafetensorsHeader } from '../../lib/weights/safetensors.js';
import { FIXTURES, tempDir } from '../helpers/common.js';
import { expectCodedOrOk, FUZZ_RUNS, FUZZ_SEED, mutate, peakRssGrowth, Rng } from '../helpers/fuzz.js';
import { VARIANTS } from '../helpers/weights.js';

/** Inputs also loaded natively through createModel (each builds a model), per run. */
const NATIVE_LOADS = 150;
const DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I32', 'U8', 'BOOL', 'F8_E4M3', 'F99', '', 'f32'];

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

function safetensors(header: unknown, data: Uint8Array, length?: bigint): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(length ?? BigInt(json.length));
  return Buffer.concat([n, json, data]);
}

/** A random header: plausible entries with wrong dtypes, shapes and offsets mixed in. */
function randomFile(rng: Rng): Uint8Array {
  if (rng.chance(0.2)) return rng.bytes(rng.int(512));
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (let i = rng.int(6); i > 0; i--) {
    const shape = Array.from({ length: rng.int(4) }, () =>
      rng.chance(0.9) ? rng.int(6) : rng.pick([-1, 2 ** 53, 1.5, 'x', 2 ** 31]),
    );
    const dtype = rng.pick(DTYPES);
    const nbytes = rng.chance(0.8) ? (shape as number[]).reduce((a, d) => a * d, 1) * 4 : rng.int(64);
    const offsets = rng.chance(0.85)
      ? [offset, offset + nbytes]
      : rng.pick([[0], [5, 2], [-4, 4], [0, 2 ** 60], 'x', null]);
    header[rng.chance(0.9) ? `t${i}` : rng.pick(['', '__proto__', 'constructor', 'a'.repeat(300)])] = rng.chance(0.95)
      ? { dtype, shape, data_offsets: offsets }
      : rng.pick([null, 1, [], 'x']);
    offset += Number.isSafeInteger(nbytes) && nbytes <= 4096 ? nbytes : 0;
  }
  if (rng.chance(0.2)) header.__metadata__ = rng.pick([{ k: 'v' }, { k: 1 }, [], null, 'x']);
  const length = rng.chance(0.1) ? BigInt(rng.next()) * BigInt(rng.next()) : undefined;
  return safetensors(header, rng.bytes(Math.max(0, offset + (rng.chance(0.2) ? rng.int(9) - 4 : 0))), length);
}

describe('safetensors fuzzing', () => {
  it(`${FUZZ_RUNS} random and ${FUZZ_RUNS} mutated inputs: accepted with the format's invariants, or refused with VPT_WEIGHTS`, async () => {
    const rng = new Rng(FUZZ_SEED);
    const seeds = await Promise.all([
      readFile(join(VARIANTS, 'vpt_deep.safetensors')),
      readFile(join(FIXTURES, 'vpt_deep_proj.safetensors')),
      readFile(join(VARIANTS, 'base', 'model.safetensors')),
      readFile(join(VARIANTS, 'layer_scale', 'model.safetensors')),
    ]);
    const model = join(tmp.dir, 'model');
    await mkdir(model);
    await copyFile(join(VARIANTS, 'base', 'config.json'), join(model, 'config.json'));
    const path = join(tmp.dir, 'fuzz.safetensors');
    const stats = { inputs: 0, accepted: 0, nativeLoads: 0, nativeAccepted: 0, maxMs: 0 };
    // LibTorch's own start-up allocations are not the reader's: load once before measuring.
    (await createModel({ weights: join(VARIANTS, 'base'), numClasses: 5, prompt: null, device: 'cpu' })).dispose();

    const growth = await peakRssGrowth(async () => {
      for (let i = 0; i < 2 * FUZZ_RUNS; i++) {
        const mutated = i >= FUZZ_RUNS;
        const seed = seeds[i % seeds.length]!;
        const bytes = mutated ? mutate(seed, rng) : randomFile(rng);
        const label = `seed ${FUZZ_SEED}, input ${i} (${mutated ? 'mutated' : 'random'}, ${bytes.length} bytes)`;
        stats.inputs++;
        const parsed = await expectCodedOrOk(['VPT_WEIGHTS'], label, async () => {
          const h = parseSafetensorsHeader('fuzz.safetensors', bytes, bytes.length);
          let cursor = bytes.length - h.entries.reduce((n, e) => n + e.nbytes, 0);
          for (const e of [...h.entries].sort((a, b) => a.offset - b.offset)) {
            expect(e.offset, label).toBe(cursor); // the entries tile the data section exactly
            cursor += e.nbytes;
          }
        });
        stats.maxMs = Math.max(stats.maxMs, parsed.ms);
        if (!parsed.ok) continue;
        stats.accepted++;
        await writeFile(path, bytes);
        const read = await expectCodedOrOk(['VPT_WEIGHTS'], label, async () => {
          await readSafetensorsHeader(path);
          await readSafetensors(path);
        });
        stats.maxMs = Math.max(stats.maxMs, read.ms);
        // The base model's mutants that still parse go through the native reader and loader.
        if (seed === seeds[2] && stats.nativeLoads < NATIVE_LOADS) {
          stats.nativeLoads++;
          await writeFile(join(model, 'model.safetensors'), bytes);
          const load = await expectCodedOrOk(['VPT_WEIGHTS', 'VPT_ARCH'], label, async () => {
            (await createModel({ weights: model, numClasses: 5, prompt: null, device: 'cpu' })).dispose();
          });
          if (load.ok) stats.nativeAccepted++;
          stats.maxMs = Math.max(stats.maxMs, load.ms);
        }
      }
    });

    console.log(
      `safetensors fuzz (seed ${FUZZ_SEED}): ${JSON.stringify(stats)}, peak RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(stats.inputs).toBeGreaterThanOrEqual(2000);
    expect(stats.accepted).toBeGreaterThan(0);
    expect(stats.nativeLoads).toBeGreaterThan(0);
    expect(stats.maxMs).toBeLessThan(5000); // no input hangs the reader
    expect(growth).toBeLessThan(256 * 2 ** 20); // inputs are < 200 KiB: nothing allocates by what a header claims
  }, 300_000);
});
