/**
 * `convertCub`: CUB-200-2011's index files -> VPT split files beside `images/`.
 *
 * Default (what VPT's conversion produced): `train.json` holds the is_training=1 images and
 * `val.json` the is_training=0 ones, each `{ "<path>": <class id> }` with the 1-based ids of
 * image_class_labels.txt, in images.txt order, indented as Python's `json.dump(d, f, indent=4)`.
 * Rows are joined by image id (cub-metadata.ts), so unaligned files give the same result.
 *
 * So by default model selection on `val.json` is selection on the test set. With `valFraction`
 * (the VPT protocol): a validation set stratified by class is carved from the training split
 * (each class keeps at least one training image), and the official test split becomes
 * `test.json`. A default conversion with `force` removes a `test.json` left by an earlier
 * `valFraction` one (it would repeat `val.json`), after the new files are written.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { z } from 'zod';

import { ErrorCode, VptError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { parseOptions } from '../util/validate.js';
import { type CubImage, readCubMetadata } from './cub-metadata.js';
import type { SplitName } from './dataset.js';
import { carveVal } from './splits.js';

export interface ConvertCubOptions {
  /** Folder for the JSON files; default: the CUB folder itself, beside `images/`. */
  out?: string;
  /** Fraction of each class's training images moved to `val.json`; `test.json` gets the official test split. */
  valFraction?: number;
  /** Seed of the stratified split (default 0). */
  seed?: number;
  /** Overwrite existing JSON files. */
  force?: boolean;
  /** Check that every image file exists. */
  checkImages?: boolean;
}

const optionsSchema = z.strictObject({
  out: z.string().min(1).optional(),
  valFraction: z.number().gt(0).lt(1).optional(),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  force: z.boolean().default(false),
  checkImages: z.boolean().default(false),
});

/** Files whose existence is checked at once. */
const STAT_BATCH = 256;

async function checkImageFiles(imagesDir: string, images: CubImage[], root: string): Promise<void> {
  const missing: string[] = [];
  for (let i = 0; i < images.length; i += STAT_BATCH) {
    const chunk = images.slice(i, i + STAT_BATCH);
    const found = await Promise.all(
      chunk.map((im) =>
        stat(join(imagesDir, im.path)).then(
          (s) => s.isFile(),
          () => false,
        ),
      ),
    );
    found.forEach((ok, j) => {
      if (!ok) missing.push(`images.txt:${chunk[j]!.line}: images/${chunk[j]!.path} does not exist`);
    });
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 20).join('\n  ');
    throw new VptError(
      ErrorCode.Data,
      `${root}: ${missing.length} image file(s) missing:\n  ${shown}${missing.length > 20 ? '\n  ...' : ''}`,
    );
  }
}

/** Image ids moved to validation: per class (ascending id), round(n * fraction) of a seeded shuffle, keeping >= 1 for training. */
export function stratifiedValIds(training: CubImage[], fraction: number, seed: number): Set<number> {
  const picked = carveVal(training, (im) => im.classId, fraction, seed);
  return new Set([...picked].map((i) => training[i]!.id));
}

/** Training images of the largest class, counting only classes that can give a val image (>= 2). */
function largestClassSize(training: ReadonlyArray<{ classId: number }>): number {
  const sizes = new Map<number, number>();
  for (const im of training) sizes.set(im.classId, (sizes.get(im.classId) ?? 0) + 1);
  return Math.max(0, ...[...sizes.values()].filter((n) => n >= 2));
}

/** An empty val split makes the dataset unusable later: refuse the fraction now, naming the smallest one that works. */
export function emptyValSplit(training: ReadonlyArray<{ classId: number }>, fraction: number): VptError {
  const largest = largestClassSize(training);
  const why = `valFraction ${fraction} would give 0 val images (round(n * ${fraction}) is 0 for every class of the training split`;
  if (largest === 0) {
    return new VptError(
      ErrorCode.Option,
      `Invalid option "valFraction": ${why}, and no class has 2 training images, so no fraction gives a val split)`,
    );
  }
  // round(n * f) >= 1 needs n * f >= 0.5; rounded up to 3 decimals.
  const smallest = Math.ceil((0.5 / largest) * 1000) / 1000;
  return new VptError(
    ErrorCode.Option,
    `Invalid option "valFraction": ${why}; the largest has ${largest} images); use at least ${smallest}`,
  );
}

/** The split files' contents: `{ "<path>": <class id> }` in images.txt order. */
function splitJson(images: CubImage[]): string {
  return JSON.stringify(Object.fromEntries(images.map((im) => [im.path, im.classId])), null, 4);
}

/**
 * Converts a CUB_200_2011 folder into VPT split files, atomically.
 * @returns images per split, the files written, and the stale `test.json` removed (if any)
 * @throws VptError: VPT_DATA listing malformed metadata with file and line; VPT_OPTION when
 *   `valFraction` gives no val image; VPT_IO when a JSON file exists and `force` is not set
 * @example
 * ```ts
 * const { counts } = await convertCub('data/CUB_200_2011');               // train.json + val.json
 * await convertCub('data/CUB_200_2011', { valFraction: 0.1, seed: 42, force: true }); // + test.json
 * ```
 */
export async function convertCub(
  root: string,
  opts: ConvertCubOptions = {},
): Promise<{ counts: Record<string, number>; files: string[]; removed: string[] }> {
  const o = parseOptions(optionsSchema, opts, 'convertCub');
  const absRoot = resolve(root);
  const { images } = await readCubMetadata(absRoot);
  if (o.checkImages) await checkImageFiles(join(absRoot, 'images'), images, absRoot);

  const training = images.filter((im) => im.isTraining);
  const official = images.filter((im) => !im.isTraining);
  const splits = new Map<SplitName, CubImage[]>();
  if (o.valFraction === undefined) {
    splits.set('train', training).set('val', official);
  } else {
    const val = stratifiedValIds(training, o.valFraction, o.seed);
    if (val.size === 0) throw emptyValSplit(training, o.valFraction);
    splits
      .set(
        'train',
        training.filter((im) => !val.has(im.id)),
      )
      .set(
        'val',
        training.filter((im) => val.has(im.id)),
      )
      .set('test', official);
  }

  const outDir = resolve(o.out ?? absRoot);
  await mkdir(outDir, { recursive: true });
  const files = [...splits.keys()].map((name) => join(outDir, `${name}.json`));
  // A test.json beside a default conversion's val.json (also the official test split) is stale.
  const stale = splits.has('test') ? [] : [join(outDir, 'test.json')];
  const exists = async (list: string[]) =>
    (
      await Promise.all(
        list.map((f) =>
          stat(f).then(
            () => f,
            () => null,
          ),
        ),
      )
    ).filter((f) => f !== null);
  if (!o.force) {
    const existing = await exists([...files, ...stale]);
    if (existing.length > 0) {
      const staleNote = stale.some((f) => existing.includes(f))
        ? ` (a default conversion removes ${stale[0]}: it would repeat val.json, the official test split)`
        : '';
      throw new VptError(
        ErrorCode.Io,
        `${existing.join(', ')} already exist(s); pass --force (force: true) to overwrite${staleNote}`,
      );
    }
  }
  const counts: Record<string, number> = {};
  for (const [name, list] of splits) {
    await writeFileAtomic(join(outDir, `${name}.json`), [new TextEncoder().encode(splitJson(list))]);
    counts[name] = list.length;
  }
  const removed = await exists(stale);
  for (const f of removed) {
    await rm(f).catch((error: unknown) => {
      throw new VptError(
        ErrorCode.Io,
        `cannot remove the stale ${f} (it repeats val.json, the official test split): ${(error as Error).message}`,
        { cause: error },
      );
    });
  }
  return { counts, files, removed };
}
