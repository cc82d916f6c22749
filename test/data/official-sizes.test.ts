/**
 * `prepare` checks a download's official splits against the sizes the owners publish, and the VPT
 * paper's split sizes agree with them (its val is carved from the official train split, except for
 * Flowers-102, whose val is official).
 */
import { readFile } from 'node:fs/promises';

import { describe, expect, it } from 'vitest';

import { FGVC_DATASETS } from '../../lib/data/datasets/catalog.js';
import { checkOfficialSizes } from '../../lib/data/prepare-dataset.js';
import { prepareDataset } from '../../lib/index.js';
import { tempDir } from '../helpers/common.js';
import { writeFlowersTree } from '../helpers/datasets.js';

const sized = (n: number) => new Array<number>(n).fill(0);

describe('official split sizes', () => {
  it("the VPT paper's train + val is each dataset's official train, and its test the official test", () => {
    for (const d of FGVC_DATASETS) {
      expect(d.paper, d.name).toBeDefined();
      const paper = d.paper!;
      if (d.val === 'official') {
        expect({ train: paper.train, val: paper.val, test: paper.test }, d.name).toEqual({
          train: d.official.train,
          val: d.official.val,
          test: d.official.test,
        });
      } else {
        expect(d.official.val, d.name).toBeUndefined();
        expect(paper.train + paper.val, d.name).toBe(d.official.train);
        expect(paper.test, d.name).toBe(d.official.test);
      }
    }
  });

  it('a complete download matches; one image fewer in any split does not', () => {
    const cub = FGVC_DATASETS.find((d) => d.name === 'cub')!.official;
    expect(checkOfficialSizes(cub, { train: sized(5994), test: sized(5794) }).matches).toBe(true);
    const short = checkOfficialSizes(cub, { train: sized(5994), test: sized(5793) });
    expect(short).toMatchObject({
      matches: false,
      expected: { train: 5994, test: 5794 },
      found: { train: 5994, test: 5793 },
    });
    const flowers = FGVC_DATASETS.find((d) => d.name === 'flowers')!.official;
    expect(checkOfficialSizes(flowers, { train: sized(1020), val: sized(1020), test: sized(6149) }).matches).toBe(true);
    expect(checkOfficialSizes(flowers, { train: sized(1020), val: sized(1019), test: sized(6149) }).matches).toBe(
      false,
    );
    expect(checkOfficialSizes(flowers, { train: sized(1020), test: sized(6149) }).found.val).toBe(0);
  });

  it('prepare records the check in its result and splits.json', async () => {
    const tmp = await tempDir();
    try {
      await writeFlowersTree(tmp.dir);
      const r = await prepareDataset('flowers', tmp.dir);
      expect(r.officialSizes).toMatchObject({
        matches: false,
        expected: { train: 1020, val: 1020, test: 6149 },
        found: { train: 12, val: 6, test: 6 },
      });
      const manifest = JSON.parse(await readFile(r.manifest, 'utf8')) as Record<string, unknown>;
      expect(manifest.officialSizes).toEqual(r.officialSizes);
    } finally {
      await tmp.cleanup();
    }
  });
});
