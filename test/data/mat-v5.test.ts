/**
 * The hand-written MAT v5 reader: every array kind the dataset files use, compressed and not,
 * both byte orders; refusals; and a fuzzer (thousands of mutated and random inputs) that must
 * only ever give a VptError VPT_DATA naming the file.
 */
import { describe, expect, it } from 'vitest';

import { parseMatV5 } from '../../lib/data/mat-v5.js';
import { VptError } from '../../lib/index.js';
import { FUZZ_RUNS, FUZZ_SEED, mutate, Rng } from '../helpers/fuzz.js';
import { writeMat } from '../helpers/mat.js';

const sample = {
  labels: [77, 77, 1, 102],
  trnid: { numeric: [1, 2, 3], class: 'double', store: 'uint8' },
  big: { numeric: [1, 300, 65535], class: 'uint16' },
  small: { numeric: [0, 255], class: 'uint8', dims: [2, 1] },
  class_names: { cell: ['AM General Hummer SUV 2000', 'Acura RL Sedan 2012'], dims: [1, 2] },
  grid: ['ab', 'cd'],
  annotations: {
    struct: [
      { bbox_x1: 39, bbox_y1: 116, bbox_x2: 569, bbox_y2: 375, class: 14, fname: '00001.jpg' },
      { bbox_x1: 36, bbox_y1: 116, bbox_x2: 868, bbox_y2: 587, class: 3, fname: '00002.jpg' },
    ],
  },
} as const;

describe('parseMatV5', () => {
  for (const [label, opts] of [
    ['plain', {}],
    ['compressed', { compress: true }],
    ['big-endian', { bigEndian: true }],
  ] as const) {
    it(`reads numeric, char, cell and struct arrays (${label})`, () => {
      const vars = parseMatV5(writeMat(sample as never, opts), 'x.mat');
      expect(vars.get('labels')).toEqual({
        type: 'numeric',
        class: 'double',
        dims: [1, 4],
        data: new Float64Array([77, 77, 1, 102]),
      });
      expect(vars.get('trnid')).toMatchObject({ class: 'double', data: new Float64Array([1, 2, 3]) });
      expect(vars.get('big')).toMatchObject({ class: 'uint16', data: new Float64Array([1, 300, 65535]) });
      expect(vars.get('small')).toMatchObject({ class: 'uint8', dims: [2, 1], data: new Float64Array([0, 255]) });
      expect(vars.get('grid')).toEqual({ type: 'char', dims: [2, 2], rows: ['ab', 'cd'] });
      const names = vars.get('class_names');
      expect(names?.type === 'cell' && names.cells.map((c) => (c.type === 'char' ? c.rows[0] : null))).toEqual([
        'AM General Hummer SUV 2000',
        'Acura RL Sedan 2012',
      ]);
      const ann = vars.get('annotations');
      expect(ann?.type).toBe('struct');
      if (ann?.type !== 'struct') return;
      expect(ann.fields).toEqual(['bbox_x1', 'bbox_y1', 'bbox_x2', 'bbox_y2', 'class', 'fname']);
      expect(ann.elements[1]!.fname).toEqual({ type: 'char', dims: [1, 9], rows: ['00002.jpg'] });
      expect(ann.elements[0]!.class).toMatchObject({ data: new Float64Array([14]) });
    });
  }

  it('refuses a v7.3 (HDF5) file, a non-MAT file and a truncated one, naming the file', () => {
    const v73 = Buffer.alloc(128);
    v73.write('MATLAB 7.3 MAT-file', 0);
    expect(() => parseMatV5(v73, 'a.mat')).toThrow(/a\.mat: malformed MAT-file: a MATLAB 7\.3 \(HDF5\) file/);
    expect(() => parseMatV5(Buffer.alloc(200), 'b.mat')).toThrow(/b\.mat: .*no endian indicator/);
    const ok = writeMat({ labels: [1, 2, 3] });
    expect(() => parseMatV5(ok.subarray(0, ok.length - 5), 'c.mat')).toThrow(/c\.mat: malformed MAT-file/);
  });

  it('refuses sparse arrays', () => {
    const bytes = writeMat({ x: [1] });
    bytes[128 + 16] = 5; // the class byte of the array flags
    expect(() => parseMatV5(bytes, 's.mat')).toThrow(
      /s\.mat: .*class 5 \(sparse, object or function\) is not supported/,
    );
  });
});

describe('parseMatV5 fuzzing', () => {
  const seeds = [
    writeMat(sample as never),
    writeMat(sample as never, { compress: true }),
    writeMat({ trnid: [1, 2], valid: [3], tstid: [4, 5, 6] }, { bigEndian: true }),
  ];
  it(`never crashes: ${FUZZ_RUNS * 4} mutated or random inputs give a result or VPT_DATA naming the file`, () => {
    const rng = new Rng(FUZZ_SEED);
    let failures = 0;
    for (let i = 0; i < FUZZ_RUNS * 4; i++) {
      const input =
        i % 4 === 3 ? Buffer.concat([seeds[0]!.subarray(0, 128), rng.bytes(rng.int(512))]) : mutate(seeds[i % 3]!, rng);
      try {
        parseMatV5(input, 'fuzz.mat');
      } catch (error) {
        failures++;
        if (!(error instanceof VptError) || error.code !== 'VPT_DATA' || !error.message.startsWith('fuzz.mat: ')) {
          expect.fail(`seed ${FUZZ_SEED}, input ${i}: ${String((error as Error)?.stack ?? error)}`);
        }
      }
    }
    expect(failures).toBeGreaterThan(FUZZ_RUNS);
  });
});
