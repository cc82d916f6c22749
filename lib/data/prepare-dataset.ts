/**
 * `prepareDataset`: any VPT benchmark dataset's official files -> the VPT-style folder `train`
 * reads (`images/` + train.json, val.json, test.json), with VPT's splits:
 *
 * - FGVC (CUB, NABirds, Dogs, Cars): val is carved from the official train split, stratified by
 *   class with a seed (default 10%, as VPT); the official test split is test.json.
 * - Flowers-102 and VTAB-1k have official val splits (setid.mat's valid; val200.txt).
 * - `shots` keeps K images per class of train.json; `percentage` adds train_{P}.json (VPT's
 *   DATA.PERCENTAGE).
 *
 * Written atomically beside them: classes.txt (class names, where the dataset has them),
 * boxes.json (Stanford Cars' bounding boxes), trainval.json (VTAB's train800val200) and
 * splits.json: what each split is, its size and sha256, the seed and the preprocessing the
 * dataset wants (`fgvc`: resize + crop + flip; `vtab`: plain resize to 224). Nothing is
 * overwritten without `force`.
 *
 * Class ids in the JSON files are the dataset's own where they are already 1..C (CUB) or labels
 * (VTAB); otherwise (NABirds' sparse ids, Flowers, Dogs, Cars) 1..C in the order of the official
 * ids, with the official id recorded in splits.json. One map serves every split: a val or test
 * class without training images is an error naming where it is listed.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readlink, realpath, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';

import { z } from 'zod';

import { ErrorCode, VptError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { parseOptions } from '../util/validate.js';
import { emptyValSplit } from './convert-cub.js';
import { FGVC_DATASETS } from './datasets/catalog.js';
import type { OfficialDataset, OfficialImage, Preprocess } from './datasets/common.js';
import { readCars, readCub, readDogs, readFlowers, readNabirds } from './datasets/fgvc.js';
import { readVtab, VTAB_TASKS, vtabTask } from './datasets/vtab.js';
import { carveVal, classesShort, pickPercentage, pickShots } from './splits.js';

export interface PrepareDatasetOptions {
  /** The VPT folder; default: the raw folder for CUB and VTAB, `<raw folder>/vpt` for the others. */
  out?: string;
  /** Fraction of each class of the official train split carved into val.json (default 0.1; not for Flowers / VTAB). */
  valFraction?: number;
  /** Seed of every sampled split (default 0). */
  seed?: number;
  /** Few-shot: keep K images per class in train.json. */
  shots?: number;
  /** Also write train_{P}.json with round(n * P) (>= 1) images of each class of train.json. */
  percentage?: number;
  /** Overwrite existing files. */
  force?: boolean;
  /** Check that every image file exists. */
  checkImages?: boolean;
}

const optionsSchema = z.strictObject({
  out: z.string().min(1).optional(),
  valFraction: z.number().gt(0).lt(1).optional(),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  shots: z.number().int().min(1).max(1_000_000).optional(),
  percentage: z.number().gt(0).lt(1).optional(),
  force: z.boolean().default(false),
  checkImages: z.boolean().default(false),
});

/** One file of the prepared folder. */
export interface PreparedSplit {
  /** train, val, test, trainval or train_{P}. */
  name: string;
  file: string;
  images: number;
  classes: number;
  sha256: string;
  /** Which images it holds, in words. */
  what: string;
}

export interface PrepareResult {
  dataset: string;
  /** The folder to pass to `train --data`. */
  out: string;
  splits: PreparedSplit[];
  /** Every file written, splits.json last. */
  files: string[];
  /** splits.json. */
  manifest: string;
  /** The `images` link made in `out`, or null when `out/images` is the image folder itself. */
  imagesLink: { path: string; target: string } | null;
  preprocess: Preprocess;
  numClasses: number;
  /** The raw files read. */
  sources: string[];
  /** The paper's split sizes, for comparison (FGVC only). */
  paper?: { train: number; val: number; test: number };
  /**
   * The official splits read against the sizes the owners publish (FGVC only): a mismatch means an
   * incomplete, extended or different release, and results will not compare with published ones.
   */
  officialSizes?: OfficialSizeCheck;
}

/** Official split sizes found against those published. */
export interface OfficialSizeCheck {
  expected: { train: number; val?: number; test: number };
  found: { train: number; val?: number; test: number };
  matches: boolean;
  publishedIn: string;
}

/** The official splits read from `raw` against the catalog's published sizes. */
export function checkOfficialSizes(
  official: { train: number; val?: number; test: number; publishedIn: string },
  raw: { train: readonly unknown[]; val?: readonly unknown[]; test: readonly unknown[] },
): OfficialSizeCheck {
  const { publishedIn, ...expected } = official;
  const found = {
    train: raw.train.length,
    ...(official.val !== undefined ? { val: raw.val?.length ?? 0 } : {}),
    test: raw.test.length,
  };
  const matches = found.train === expected.train && found.test === expected.test && found.val === expected.val;
  return { expected, found, matches, publishedIn };
}

/** The preprocessing each name stands for, as recorded in splits.json. */
export const PREPROCESS: Record<Preprocess, string> = {
  fgvc: 'VPT FGVC: train Resize(crop*8/7) + RandomCrop(crop) + RandomHorizontalFlip; eval Resize(crop*8/7) + CenterCrop(crop)',
  vtab: 'VTAB: Resize to 224x224 (no crop, no flip, no augmentation) for train and eval',
};

const STAT_BATCH = 256;

/** `vtab-<task>` (or `vtab` with a task-named folder) -> the task. */
function parseName(dataset: string, root: string): { kind: string; task?: string } {
  const name = dataset.toLowerCase();
  if (FGVC_DATASETS.some((d) => d.name === name)) return { kind: name };
  if (name === 'vtab') {
    const base = root.split(/[\\/]/).filter(Boolean).pop() ?? '';
    return { kind: 'vtab', task: vtabTask(base.replace(/^vtab-/, '')) };
  }
  if (name.startsWith('vtab-') || name.startsWith('vtab/')) return { kind: 'vtab', task: vtabTask(name.slice(5)) };
  throw new VptError(
    ErrorCode.Option,
    `unknown dataset ${JSON.stringify(dataset)}; supported: ${FGVC_DATASETS.map((d) => d.name).join(', ')}, ` +
      `vtab-<task> (${Object.keys(VTAB_TASKS).join(', ')}); see \`vpt-native datasets\``,
  );
}

async function readOfficial(kind: string, root: string, task?: string): Promise<OfficialDataset> {
  switch (kind) {
    case 'cub':
      return readCub(root);
    case 'nabirds':
      return readNabirds(root);
    case 'flowers':
      return readFlowers(root);
    case 'dogs':
      return readDogs(root);
    case 'cars':
      return readCars(root);
    default:
      return readVtab(root, task!);
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The JSON text VPT's files had: `json.dump(d, f, indent=4)`. */
function splitBytes(images: OfficialImage[], idOf: (im: OfficialImage) => number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(Object.fromEntries(images.map((im) => [im.key, idOf(im)])), null, 4));
}

function pick(images: OfficialImage[], picked: Set<number>, keep: boolean): OfficialImage[] {
  return images.filter((_, i) => picked.has(i) === keep);
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

async function checkImageFiles(base: string, images: OfficialImage[], root: string): Promise<void> {
  const missing: string[] = [];
  for (let i = 0; i < images.length; i += STAT_BATCH) {
    const chunk = images.slice(i, i + STAT_BATCH);
    const found = await Promise.all(chunk.map((im) => isFile(join(base, im.key))));
    found.forEach((ok, j) => {
      if (!ok) missing.push(`${chunk[j]!.origin}: ${join(base, chunk[j]!.key)} does not exist`);
    });
  }
  if (missing.length > 0) {
    throw new VptError(
      ErrorCode.Data,
      `${root}: ${missing.length} image file(s) missing:\n  ${missing.slice(0, 20).join('\n  ')}${missing.length > 20 ? '\n  ...' : ''}`,
    );
  }
}

/** Makes `link` point at `target` (relatively); returns the link made, or null when `link` is `target` itself. */
async function linkTo(link: string, target: string, force: boolean): Promise<{ path: string; target: string } | null> {
  if (resolve(link) === resolve(target)) return null;
  const relTarget = relative(dirname(link), target) || '.';
  const existing = await lstat(link).catch(() => null);
  if (existing) {
    const same = await realpath(link).then(
      async (r) => r === (await realpath(target)),
      () => false,
    );
    if (same) return existing.isSymbolicLink() ? { path: link, target: await readlink(link) } : null;
    if (!existing.isSymbolicLink() || !force) {
      throw new VptError(
        ErrorCode.Io,
        `${link} exists and is not the image folder ${target}` +
          (existing.isSymbolicLink()
            ? '; pass --force (force: true) to replace the link'
            : '; move it away or choose another --out'),
      );
    }
    await rm(link);
  }
  await symlink(relTarget, link, 'dir').catch((error: unknown) => {
    throw new VptError(ErrorCode.Io, `cannot link ${link} -> ${relTarget}: ${(error as Error).message}`, {
      cause: error,
    });
  });
  return { path: link, target: relTarget };
}

/**
 * Makes `out/images` a folder of links to `folders` of `imageBase` (`images/cars_train ->
 * ../../cars_train`): for an image base that holds `out` itself, where one `images -> ..` link
 * would make the prepared folder contain itself. Returns the links, brace-abbreviated.
 */
async function linkImageFolders(
  out: string,
  imageBase: string,
  folders: string[],
  force: boolean,
): Promise<{ path: string; target: string } | null> {
  const dir = join(out, 'images');
  const existing = await lstat(dir).catch(() => null);
  if (existing?.isSymbolicLink()) {
    // Such as the `images -> ..` link earlier versions wrote.
    if (!force) {
      throw new VptError(
        ErrorCode.Io,
        `${dir} is a link to ${await readlink(dir)}; pass --force (force: true) to replace it with a folder of links to ${folders.join(', ')}`,
      );
    }
    await rm(dir);
  } else if (existing && !existing.isDirectory()) {
    throw new VptError(ErrorCode.Io, `${dir} exists and is not a folder; move it away or choose another --out`);
  }
  await mkdir(dir, { recursive: true });
  const made: string[] = [];
  for (const f of folders) if (await linkTo(join(dir, f), join(imageBase, f), force)) made.push(f);
  if (made.length === 0) return null;
  const names = made.length === 1 ? made[0]! : `{${made.join(',')}}`;
  return { path: join(dir, names), target: `${relative(dir, imageBase) || '.'}/${names}` };
}

/** Makes `out/images` point at the image folder; returns the link made, or null when none is needed. */
async function linkImages(
  out: string,
  raw: OfficialDataset,
  force: boolean,
): Promise<{ path: string; target: string } | null> {
  return raw.imageFolders
    ? linkImageFolders(out, raw.imageBase, raw.imageFolders, force)
    : linkTo(join(out, 'images'), raw.imageBase, force);
}

/**
 * Converts a dataset's official files into a VPT-style folder, atomically.
 * @param dataset `cub`, `nabirds`, `flowers`, `dogs`, `cars` or `vtab-<task>` (see `vpt-native datasets`)
 * @param root the raw folder, as the owners' archives unpack
 * @throws VptError: VPT_DATA naming file and line (or MAT variable and index) of every problem;
 *   VPT_OPTION for an unknown dataset or task, or an option the dataset cannot honour; VPT_IO when
 *   a file exists and `force` is not set
 * @example
 * ```ts
 * const r = await prepareDataset('nabirds', 'data/nabirds', { seed: 42 });
 * await train({ data: r.out, ... });
 * ```
 */
export async function prepareDataset(
  dataset: string,
  root: string,
  opts: PrepareDatasetOptions = {},
): Promise<PrepareResult> {
  const o = parseOptions(optionsSchema, opts, 'prepareDataset');
  const absRoot = resolve(root);
  const { kind, task } = parseName(dataset, absRoot);
  const name = task ? `vtab-${task}` : kind;
  const info = FGVC_DATASETS.find((d) => d.name === kind);
  const raw = await readOfficial(kind, absRoot, task);
  const officialSizes = info ? checkOfficialSizes(info.official, raw) : undefined;

  // Splits.
  const seed = o.seed;
  const entries: Array<{ name: string; images: OfficialImage[]; what: string }> = [];
  let train: OfficialImage[];
  let trainWhat: string;
  if (raw.val) {
    if (o.valFraction !== undefined) {
      throw new VptError(
        ErrorCode.Option,
        `Invalid option "valFraction": ${name} has an official val split (${raw.sources[1]}); it is used as is`,
      );
    }
    train = raw.train;
    trainWhat = `official train (${kind === 'flowers' ? 'setid.mat trnid' : 'train800.txt'})`;
    entries.push({
      name: 'val',
      images: raw.val,
      what: `official val (${kind === 'flowers' ? 'setid.mat valid' : 'val200.txt'})`,
    });
  } else {
    const fraction = o.valFraction ?? 0.1;
    const val = carveVal(raw.train, (im) => im.classId, fraction, seed);
    if (val.size === 0) throw emptyValSplit(raw.train, fraction);
    train = pick(raw.train, val, false);
    trainWhat = 'official train minus val';
    entries.push({
      name: 'val',
      images: pick(raw.train, val, true),
      what: `${fraction} of each class of the official train split (stratified, seed ${seed})`,
    });
  }
  if (o.shots !== undefined) {
    const short = classesShort(train, (im) => im.classId, o.shots);
    if (short.length > 0) {
      throw new VptError(
        ErrorCode.Option,
        `Invalid option "shots": ${short.length} class(es) have fewer than ${o.shots} training images: ` +
          short
            .slice(0, 10)
            .map(([c, n]) => `class ${c} has ${n}`)
            .join(', '),
      );
    }
    train = pick(
      train,
      pickShots(train, (im) => im.classId, o.shots, seed),
      true,
    );
    trainWhat = `${o.shots} per class (seed ${seed}) of the ${trainWhat}`;
  }
  entries.unshift({ name: 'train', images: train, what: trainWhat });
  entries.push({
    name: 'test',
    images: raw.test,
    what: `official test (${kind === 'vtab' ? 'test.txt' : 'test split'})`,
  });
  if (raw.trainval)
    entries.push({ name: 'trainval', images: raw.trainval, what: "train800val200.txt (VPT's final runs)" });
  if (o.percentage !== undefined) {
    entries.push({
      name: `train_${o.percentage}`,
      images: pick(
        train,
        pickPercentage(train, (im) => im.classId, o.percentage, seed),
        true,
      ),
      what: `${o.percentage} of each class of train.json (stratified, seed ${seed}; VPT's DATA.PERCENTAGE)`,
    });
  }

  // One label map: the official ids in order -> 1..C (or kept), every split's classes in train's.
  const allIds = [...new Set([...raw.train, ...(raw.val ?? []), ...raw.test].map((im) => im.classId))].sort(
    (a, b) => a - b,
  );
  const newId = new Map(allIds.map((id, i) => [id, raw.relabel ? i + 1 : id]));
  const idOf = (im: OfficialImage) => newId.get(im.classId)!;
  const trainClasses = new Set(train.map((im) => im.classId));
  const orphans = new Map<number, string>();
  for (const e of entries)
    for (const im of e.images)
      if (!trainClasses.has(im.classId) && !orphans.has(im.classId)) orphans.set(im.classId, im.origin);
  if (orphans.size > 0) {
    const listed = [...orphans].slice(0, 20).map(([c, at]) => `${at}: class ${c} has no training image`);
    throw new VptError(
      ErrorCode.Data,
      `${absRoot}: ${orphans.size} class(es) occur outside the training split only:\n  ${listed.join('\n  ')}`,
    );
  }
  const usedIds = allIds.filter((id) => trainClasses.has(id));

  if (o.checkImages) await checkImageFiles(raw.imageBase, [...raw.train, ...(raw.val ?? []), ...raw.test], absRoot);

  // What is written.
  const out = resolve(o.out ?? (kind === 'cub' || kind === 'vtab' ? absRoot : join(absRoot, 'vpt')));
  const writes: Array<{ file: string; bytes: Uint8Array }> = [];
  const splits: PreparedSplit[] = entries.map((e) => {
    const bytes = splitBytes(e.images, idOf);
    const file = join(out, `${e.name}.json`);
    writes.push({ file, bytes });
    return {
      name: e.name,
      file,
      images: e.images.length,
      classes: new Set(e.images.map((im) => im.classId)).size,
      sha256: sha256(bytes),
      what: e.what,
    };
  });
  const keepRawClasses = kind === 'cub' && out === absRoot;
  if (raw.classNames && !keepRawClasses) {
    const text = `${usedIds.map((id) => `${newId.get(id)} ${raw.classNames!.get(id) ?? String(id)}`).join('\n')}\n`;
    writes.push({ file: join(out, 'classes.txt'), bytes: new TextEncoder().encode(text) });
  }
  const boxed = [...raw.train, ...raw.test].filter((im) => im.box);
  if (boxed.length > 0) {
    const boxes = Object.fromEntries(boxed.map((im) => [im.key, im.box!]));
    writes.push({ file: join(out, 'boxes.json'), bytes: new TextEncoder().encode(JSON.stringify(boxes, null, 1)) });
  }
  const manifest = join(out, 'splits.json');
  const manifestJson = {
    dataset: name,
    title: info?.title ?? `VTAB-1k ${task}`,
    source: absRoot,
    sources: raw.sources,
    preprocess: raw.preprocess,
    preprocessing: PREPROCESS[raw.preprocess],
    seed,
    valFraction: raw.val ? null : (o.valFraction ?? 0.1),
    shots: o.shots ?? null,
    percentage: o.percentage ?? null,
    numClasses: usedIds.length,
    ...(raw.relabel ? { officialClassIds: usedIds } : {}),
    splits: Object.fromEntries(
      splits.map((s) => [
        s.name,
        { file: `${s.name}.json`, images: s.images, classes: s.classes, sha256: s.sha256, what: s.what },
      ]),
    ),
    ...(raw.imageFolders ? { imageFolders: raw.imageFolders } : {}),
    ...(boxed.length > 0
      ? { boxes: 'boxes.json: [x1, y1, x2, y2] per image, pixels, as the annotations give them' }
      : {}),
    ...(info?.paper ? { paper: info.paper } : {}),
    ...(officialSizes ? { officialSizes } : {}),
  };
  writes.push({ file: manifest, bytes: new TextEncoder().encode(`${JSON.stringify(manifestJson, null, 2)}\n`) });

  if (!o.force) {
    const existing = (
      await Promise.all(writes.map(async (w) => ((await lstat(w.file).catch(() => null)) ? w.file : null)))
    ).filter((f) => f !== null);
    if (existing.length > 0)
      throw new VptError(
        ErrorCode.Io,
        `${existing.join(', ')} already exist(s); pass --force (force: true) to overwrite`,
      );
  }
  await mkdir(out, { recursive: true });
  const imagesLink = await linkImages(out, raw, o.force);
  for (const w of writes) await writeFileAtomic(w.file, [w.bytes]);

  return {
    dataset: name,
    out,
    splits,
    files: writes.map((w) => w.file),
    manifest,
    imagesLink,
    preprocess: raw.preprocess,
    numClasses: usedIds.length,
    sources: raw.sources,
    ...(info?.paper ? { paper: info.paper } : {}),
    ...(officialSizes ? { officialSizes } : {}),
  };
}
