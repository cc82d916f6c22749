/**
 * `openDataset`: a VPT-style dataset (CUB, NABirds, Oxford Flowers, Stanford Dogs and Cars):
 *
 *   <root>/images/...                 the images
 *   <root>/train.json, val.json, test.json   { "<path under images/>": <class id>, ... }
 *   <root>/classes.txt                optional `<class id> <name>` lines (CUB's)
 *
 * One label map serves every split: the sorted unique class ids of the training split map to
 * 0..C-1, and a val/test id the training split lacks is an error naming it. (VPT built a map per
 * split, which silently mislabels a split that lacks a class.) Every key is checked by
 * image-path.ts before any image is read.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { ErrorCode, VptError } from '../errors.js';
import { parseClasses } from './cub-metadata.js';
import type { Preprocess } from './datasets/common.js';
import { linkedImageRoots, resolveImageKey } from './image-path.js';

/** One labelled image. */
export interface Sample {
  /** The JSON key: the image path relative to `images/`. */
  key: string;
  /** Absolute path of the image file. */
  path: string;
  /** Class index 0..C-1. */
  label: number;
}

export type SplitName = 'train' | 'val' | 'test';
export const SPLIT_NAMES: readonly SplitName[] = ['train', 'val', 'test'];

export interface Dataset {
  /** Absolute dataset root. */
  root: string;
  /** Absolute `images/` folder. */
  imagesDir: string;
  numClasses: number;
  /** Original class ids, sorted; the index is the label. */
  classIds: number[];
  /** From classes.txt, else String(id); indexed by label. */
  classNames: string[];
  /** Samples of each split present, in JSON order. */
  splits: Partial<Record<SplitName, Sample[]>>;
  /** The preprocessing splits.json names (`prepare` writes 'vtab' for VTAB-1k tasks); absent without it. */
  preprocess?: Preprocess;
}

/** Keys whose paths are checked at once (each check is a realpath call). */
const PATH_CHECK_BATCH = 256;
/** Most problems listed in one error. */
const MAX_LISTED = 10;

function dataError(file: string, problems: string[]): VptError {
  const shown = problems.slice(0, MAX_LISTED);
  const more = problems.length > shown.length ? `\n  ... and ${problems.length - shown.length} more` : '';
  return new VptError(ErrorCode.Data, `${file}: ${problems.length} problem(s):\n  ${shown.join('\n  ')}${more}`);
}

/** A split file as [key, class id] pairs, or null when the file does not exist. */
async function readSplit(file: string): Promise<Array<[string, number]> | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new VptError(ErrorCode.Io, `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new VptError(ErrorCode.Data, `${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new VptError(ErrorCode.Data, `${file} must be a JSON object { "<image path>": <class id> }`);
  }
  const entries = Object.entries(json as Record<string, unknown>);
  const bad = entries.filter(([, id]) => !(Number.isSafeInteger(id) && (id as number) >= 0));
  if (bad.length > 0) {
    throw dataError(
      file,
      bad.map(([key, id]) => `"${key}": class id ${JSON.stringify(id)} is not a non-negative integer`),
    );
  }
  if (entries.length === 0) throw new VptError(ErrorCode.Data, `${file} holds no images`);
  return entries as Array<[string, number]>;
}

/** Checks every key of a split for path safety; returns absolute paths in order. */
async function resolveKeys(
  file: string,
  imagesDir: string,
  realImagesDir: string,
  linkedRoots: ReadonlyMap<string, string>,
  keys: string[],
): Promise<string[]> {
  const paths: string[] = [];
  const problems: string[] = [];
  for (let i = 0; i < keys.length; i += PATH_CHECK_BATCH) {
    const chunk = keys.slice(i, i + PATH_CHECK_BATCH);
    const results = await Promise.all(chunk.map((key) => resolveImageKey(imagesDir, realImagesDir, key, linkedRoots)));
    results.forEach((r, j) => {
      if ('reason' in r) problems.push(`"${chunk[j]}" is rejected: ${r.reason}`);
      else paths.push(r.path);
    });
  }
  if (problems.length > 0) throw dataError(file, problems);
  return paths;
}

/** What `prepare` wrote in splits.json that opening the dataset uses; {} without one. */
interface PreparedManifest {
  /** The links `prepare` made directly in images/ (Stanford Cars), whose targets keys under them may reach. */
  imageFolders?: string[];
  preprocess?: Preprocess;
}

async function readManifest(root: string): Promise<PreparedManifest> {
  const text = await readFile(join(root, 'splits.json'), 'utf8').catch(() => null);
  if (text === null) return {};
  let json: { imageFolders?: unknown; preprocess?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    return {};
  }
  if (json === null || typeof json !== 'object') return {};
  const folders = json.imageFolders;
  return {
    ...(Array.isArray(folders) ? { imageFolders: folders.filter((f): f is string => typeof f === 'string') } : {}),
    ...(json.preprocess === 'fgvc' || json.preprocess === 'vtab' ? { preprocess: json.preprocess } : {}),
  };
}

async function readClassNames(root: string): Promise<Map<number, string> | null> {
  const file = join(root, 'classes.txt');
  try {
    return parseClasses(await readFile(file, 'utf8'), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (error instanceof VptError) throw error;
    throw new VptError(ErrorCode.Io, `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Opens a VPT-style dataset: reads its split files, builds the label map from the training
 * split and checks every image path.
 * @throws VptError (VPT_DATA) naming the file and entry at fault
 * @example
 * ```ts
 * const data = await openDataset('data/CUB_200_2011');
 * console.log(data.numClasses, data.splits.train?.length);
 * ```
 */
export async function openDataset(root: string): Promise<Dataset> {
  const absRoot = resolve(root);
  const imagesDir = join(absRoot, 'images');
  const isDir = await stat(imagesDir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir)
    throw new VptError(ErrorCode.Data, `${absRoot} has no images/ folder; a VPT dataset keeps its images there`);
  const realImagesDir = await realpath(imagesDir);
  const manifest = await readManifest(absRoot);
  const linkedRoots = await linkedImageRoots(imagesDir, manifest.imageFolders ?? []);

  const raw = new Map<SplitName, Array<[string, number]>>();
  for (const name of SPLIT_NAMES) {
    const entries = await readSplit(join(absRoot, `${name}.json`));
    if (entries) raw.set(name, entries);
  }
  const train = raw.get('train');
  if (!train) {
    throw new VptError(
      ErrorCode.Data,
      `${absRoot} has no train.json: convert the dataset's official files first with ` +
        `\`vpt-native prepare <dataset> <raw folder>\` (e.g. \`vpt-native prepare cub ${root}\`; ` +
        `\`vpt-native datasets\` lists the datasets and the files each needs)`,
    );
  }

  const classIds = [...new Set(train.map(([, id]) => id))].sort((a, b) => a - b);
  const labelOf = new Map(classIds.map((id, label) => [id, label]));
  const names = await readClassNames(absRoot);

  const splits: Partial<Record<SplitName, Sample[]>> = {};
  for (const [name, entries] of raw) {
    const file = join(absRoot, `${name}.json`);
    const unknown = entries.filter(([, id]) => !labelOf.has(id));
    if (unknown.length > 0) {
      throw dataError(
        file,
        unknown.map(([key, id]) => `"${key}": class id ${id} does not occur in train.json`),
      );
    }
    const paths = await resolveKeys(
      file,
      imagesDir,
      realImagesDir,
      linkedRoots,
      entries.map(([key]) => key),
    );
    splits[name] = entries.map(([key, id], i) => ({ key, path: paths[i]!, label: labelOf.get(id)! }));
  }

  return {
    root: absRoot,
    imagesDir,
    numClasses: classIds.length,
    classIds,
    classNames: classIds.map((id) => names?.get(id) ?? String(id)),
    splits,
    ...(manifest.preprocess ? { preprocess: manifest.preprocess } : {}),
  };
}
