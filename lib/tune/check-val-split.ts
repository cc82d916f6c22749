/**
 * A search selects on val, so val must exist and share no image with test: CUB converted
 * without `--val-fraction` has the official test split as val.json (and no test.json).
 */
import type { Dataset } from '../data/dataset.js';
import { ErrorCode, VptError } from '../errors.js';

const HOW =
  'make one with `vpt-native prepare-cub <dir> --val-fraction 0.1 --force` (or `vpt-native prepare <dataset> --val-fraction 0.1`), which carves val from train and writes the official test split to test.json';

/** Throws VPT_DATA unless `dataset` has a non-empty val split distinct from its test split. */
export function checkValSplit(dataset: Dataset): void {
  const { val, test } = dataset.splits;
  if (!val?.length)
    throw new VptError(ErrorCode.Data, `${dataset.root} has no val split (val.json) to select on: ${HOW}`);
  if (!test?.length)
    throw new VptError(
      ErrorCode.Data,
      `${dataset.root} has no test split (test.json), so its val.json is likely the official test split, and selecting on it would be selecting on test: ${HOW}`,
    );
  const testKeys = new Set(test.map((s) => s.key));
  const shared = val.filter((s) => testKeys.has(s.key));
  if (shared.length)
    throw new VptError(
      ErrorCode.Data,
      `${dataset.root}: ${shared.length} of val.json's ${val.length} images are also in test.json (e.g. ${shared[0]!.key}); selection needs a val split distinct from test: ${HOW}`,
    );
}
