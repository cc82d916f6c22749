/**
 * Fuzzes the .npz reader (zip container + .npy headers, stored and compressed) with random and
 * mutated archives: every input must be accepted (entries inside the data file, sizes matching
 * shapes; then loaded or refused natively) or refused with a VPT_WEIGHTS error — no crash, no
 * hang, no allocation beyond the file's size, no temporary file left behind.
 */
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createModel } from '../../lib/index.js';
import { readNpz } from '../../lib/weights/npz.js';
import { tempDir } from '../helpers/common.js';
import { expectCodedOrOk, FUZZ_RUNS, FUZZ_SEED, mutate, peakRssGrowth, Rng } from '../helpers/fuzz.js';
import { npy, VARIANTS, zip } from '../helpers/weights.js';

/** Inputs also loaded natively through createModel (each builds a model), per run. */
const NATIVE_LOADS = 150;
const DESCRS = ['<f4', '<f2', '<f8', '|O', '>f4', '<i8', '|u1', '<V2', 'x'];
const ITEM_BYTES: Record<string, number> = { '<f4': 4, '<f2': 2, '<f8': 8 };

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

/** A random archive: mostly well-formed .npy members with random dtypes, shapes and sizes. */
function randomArchive(rng: Rng): Uint8Array {
  if (rng.chance(0.15)) return rng.bytes(rng.int(512));
  const members = Array.from({ length: rng.int(5) }, (_, i) => {
    const shape = Array.from({ length: rng.int(4) }, () =>
      rng.chance(0.95) ? rng.int(5) : rng.pick([-1, 2 ** 40, 70000]),
    );
    const descr = rng.pick(DESCRS);
    const bytes = shape.reduce((a, d) => a * d, 1) * (ITEM_BYTES[descr] ?? 1);
    const size = rng.chance(0.8) && bytes >= 0 && bytes <= 4096 ? bytes : rng.int(64);
    const header = rng.chance(0.1)
      ? rng.pick([
          "{'descr': '<f4', 'fortran_order': False}",
          "{'descr': '<f4', 'fortran_order': False, 'shape': (2,",
          '',
          "{'shape': ((((((1,),),),),)}",
        ])
      : undefined;
    const data = rng.chance(0.9)
      ? npy(shape, rng.bytes(size), {
          descr,
          ...(header === undefined ? {} : { header }),
          version: rng.pick([1, 2] as const),
        })
      : rng.bytes(rng.int(40));
    return { name: rng.chance(0.9) ? `a${i}.npy` : rng.pick(['a0.npy', 'dir/', 'x.txt', '../up.npy']), data };
  });
  return zip(members, { compress: rng.chance(0.4) });
}

describe('npz fuzzing', () => {
  it(`${FUZZ_RUNS} random and ${FUZZ_RUNS} mutated archives: accepted and consistent, or refused with VPT_WEIGHTS`, async () => {
    const rng = new Rng(FUZZ_SEED);
    const small = zip([
      { name: 'cls.npy', data: npy([1, 1, 4], rng.bytes(16)) },
      { name: 'embedding/bias.npy', data: npy([4], rng.bytes(16), { descr: '<f2' }) },
      { name: 'x.npy', data: npy([2, 3], rng.bytes(48), { descr: '<f8' }) },
    ]);
    const seeds = [
      small,
      zip(
        [
          { name: 'a.npy', data: npy([3, 2], rng.bytes(24)) },
          { name: 'b.npy', data: npy([5], rng.bytes(20)) },
        ],
        { compress: true },
      ),
      await readFile(join(VARIANTS, 'google', 'vit_jax.npz')),
      await readFile(join(VARIANTS, 'google', 'big_vision.npz')),
    ];
    const model = join(tmp.dir, 'model');
    await mkdir(model);
    await copyFile(join(VARIANTS, 'google', 'config.json'), join(model, 'config.json'));
    const path = join(tmp.dir, 'fuzz.npz');
    const tempsBefore = (await readdir(tmpdir())).filter((n) => n.startsWith('vpt-npz-')).length;
    const stats = { inputs: 0, accepted: 0, nativeLoads: 0, nativeAccepted: 0, maxMs: 0 };
    // LibTorch's own start-up allocations are not the reader's: load once before measuring.
    (
      await createModel({
        weights: join(VARIANTS, 'google', 'vit_jax.npz'),
        numClasses: 5,
        prompt: null,
        device: 'cpu',
      })
    ).dispose();

    const growth = await peakRssGrowth(async () => {
      for (let i = 0; i < 2 * FUZZ_RUNS; i++) {
        const mutated = i >= FUZZ_RUNS;
        // The fixtures are ~140 KiB: one mutated input in four starts from them, the rest from small archives.
        const seed = seeds[i % 4 === 3 ? 2 + rng.int(2) : rng.int(2)]!;
        const bytes = mutated ? mutate(seed, rng) : randomArchive(rng);
        const label = `seed ${FUZZ_SEED}, input ${i} (${mutated ? 'mutated' : 'random'}, ${bytes.length} bytes)`;
        stats.inputs++;
        await writeFile(path, bytes);
        const read = await expectCodedOrOk(['VPT_WEIGHTS'], label, async () => {
          const npz = await readNpz(path);
          try {
            const size = (await stat(npz.dataPath)).size;
            for (const e of npz.entries) {
              expect(e.offset + e.nbytes, label).toBeLessThanOrEqual(size);
              expect(e.nbytes, label).toBe(
                e.shape.reduce((a, d) => a * d, 1) * { F16: 2, F32: 4, F64: 8 }[e.dtype as 'F32'],
              );
            }
          } finally {
            await npz.close();
          }
        });
        stats.maxMs = Math.max(stats.maxMs, read.ms);
        if (!read.ok) continue;
        stats.accepted++;
        // The fixtures' mutants that still read go through the Google converter and loader.
        if (seed.length > 100_000 && stats.nativeLoads < NATIVE_LOADS) {
          stats.nativeLoads++;
          await writeFile(join(model, 'model.npz'), bytes);
          const load = await expectCodedOrOk(['VPT_WEIGHTS', 'VPT_ARCH'], label, async () => {
            (
              await createModel({ weights: join(model, 'model.npz'), numClasses: 5, prompt: null, device: 'cpu' })
            ).dispose();
          });
          if (load.ok) stats.nativeAccepted++;
          stats.maxMs = Math.max(stats.maxMs, load.ms);
        }
      }
    });

    const tempsAfter = (await readdir(tmpdir())).filter((n) => n.startsWith('vpt-npz-')).length;
    console.log(
      `npz fuzz (seed ${FUZZ_SEED}): ${JSON.stringify(stats)}, peak RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(stats.inputs).toBeGreaterThanOrEqual(2000);
    expect(stats.accepted).toBeGreaterThan(0);
    expect(stats.nativeLoads).toBeGreaterThan(0);
    expect(tempsAfter).toBe(tempsBefore); // every inflated archive's temporary file is removed
    expect(stats.maxMs).toBeLessThan(5000); // no input hangs the reader
    expect(growth).toBeLessThan(256 * 2 ** 20); // inputs are < 200 KiB: nothing allocates by what a header claims
  }, 300_000);
});
