/** A tune refuses a dataset whose val split is missing or is (or overlaps) the test split, saying how to make one. */
import { describe, expect, it } from 'vitest';

import type { Dataset, Sample } from '../../lib/data/dataset.js';
import { checkValSplit } from '../../lib/tune/check-val-split.js';

const samples = (keys: string[]): Sample[] => keys.map((key) => ({ key, path: `/d/images/${key}`, label: 0 }));
const dataset = (splits: Dataset['splits']): Dataset => ({
  root: '/d',
  imagesDir: '/d/images',
  numClasses: 1,
  classIds: [1],
  classNames: ['a'],
  splits,
});

describe('checkValSplit', () => {
  it('accepts val and test with no image in common', () => {
    expect(() =>
      checkValSplit(dataset({ train: samples(['a']), val: samples(['b']), test: samples(['c']) })),
    ).not.toThrow();
  });

  it.each([
    ['no val split', { train: samples(['a']), test: samples(['c']) }, /no val split/],
    ['no test split (val is the official test split)', { train: samples(['a']), val: samples(['b']) }, /no test split/],
    [
      'val overlapping test',
      { train: samples(['a']), val: samples(['b', 'c']), test: samples(['c']) },
      /1 of val.json's 2 images are also in test.json/,
    ],
  ])('refuses %s, naming prepare-cub --val-fraction', (_name, splits, message) => {
    const run = () => checkValSplit(dataset(splits as Dataset['splits']));
    expect(run).toThrow(message);
    expect(run).toThrow(/prepare-cub <dir> --val-fraction/);
  });
});
