/**
 * What every dataset converter shares: the official splits of a dataset as read from its files
 * (`OfficialDataset`), problem collection with file and line, and text-table parsing.
 */
import { readFile } from 'node:fs/promises';

import { ErrorCode, VptError } from '../../errors.js';
import { unsafeKeyReason } from '../image-path.js';

/** Preprocessing a dataset wants: VPT's FGVC transforms (resize, crop, flip) or VTAB's plain resize. */
export type Preprocess = 'fgvc' | 'vtab';

/** One image as an official file lists it. */
export interface OfficialImage {
  /** Path relative to the dataset's image folder (`imageBase`). */
  key: string;
  /** The dataset's own class id (or label). */
  classId: number;
  /** Where it was listed, e.g. `images.txt:12` or `setid.mat: tstid(3)`. */
  origin: string;
  /** Bounding box [x1, y1, x2, y2] in pixels, when the dataset has one. */
  box?: [number, number, number, number];
}

/** A dataset's official splits, read and checked. */
export interface OfficialDataset {
  /** Absolute folder the keys are relative to. */
  imageBase: string;
  /**
   * The top-level entries of `imageBase` the keys lie under, when `imageBase` is the raw root
   * itself (Stanford Cars): the prepared folder's `images/` is then a folder of links to these
   * alone, not a link to a root that holds the prepared folder (a loop for tree walkers).
   */
  imageFolders?: string[];
  train: OfficialImage[];
  /** An official validation split (Flowers-102, VTAB); otherwise val is carved from train. */
  val?: OfficialImage[];
  test: OfficialImage[];
  /** VTAB's train800val200, checked to be train + val. */
  trainval?: OfficialImage[];
  /** Class id -> name, where the dataset names its classes. */
  classNames?: Map<number, string>;
  /** Map the class ids to 1..C (sorted) in the JSON files; false keeps them (CUB's 1..200, VTAB's labels). */
  relabel: boolean;
  preprocess: Preprocess;
  /** Files read, relative to the root, for the report. */
  sources: string[];
}

/** Most problems listed in one error. */
const MAX_LISTED_PROBLEMS = 20;

/** Collects problems across files and throws them as one VPT_DATA error. */
export class Problems {
  readonly #items: string[] = [];

  add(file: string, line: number | null, message: string): void {
    this.#items.push(line === null ? `${file}: ${message}` : `${file}:${line}: ${message}`);
  }

  /** A problem whose location is already spelled out (e.g. `setid.mat: tstid(3)`). */
  addAt(where: string, message: string): void {
    this.#items.push(`${where}: ${message}`);
  }

  get count(): number {
    return this.#items.length;
  }

  throwIfAny(what: string): void {
    if (this.#items.length === 0) return;
    const shown = this.#items.slice(0, MAX_LISTED_PROBLEMS);
    const more = this.#items.length > shown.length ? `\n  ... and ${this.#items.length - shown.length} more` : '';
    throw new VptError(ErrorCode.Data, `${what} has ${this.#items.length} problem(s):\n  ${shown.join('\n  ')}${more}`);
  }
}

/** Reads a text file; a missing one is VPT_DATA naming it and what the folder should be. */
export async function readText(path: string, hint: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new VptError(
      missing ? ErrorCode.Data : ErrorCode.Io,
      missing ? `${path} is missing: ${hint}` : `cannot read ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Non-empty lines of a text file with their 1-based numbers, CR stripped and trimmed. */
export function lines(text: string): Array<{ line: number; content: string }> {
  const out: Array<{ line: number; content: string }> = [];
  text.split('\n').forEach((raw, i) => {
    const content = raw.replace(/\r$/, '').trim();
    if (content !== '') out.push({ line: i + 1, content });
  });
  return out;
}

export interface Row {
  id: string;
  value: string;
  line: number;
}

/**
 * `<id> <value>` rows of a file (the value is the rest of the line), keyed by id. Malformed lines,
 * ids not matching `idPattern` and duplicate ids are problems.
 */
export function parseRows(text: string, file: string, problems: Problems, idPattern: RegExp): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const { line, content } of lines(text)) {
    const match = /^(\S+)\s+(.+)$/.exec(content);
    if (!match) {
      problems.add(file, line, `expected "<id> <value>", got ${JSON.stringify(content)}`);
      continue;
    }
    const [, id, value] = match as unknown as [string, string, string];
    if (!idPattern.test(id)) {
      problems.add(file, line, `id ${JSON.stringify(id)} is malformed`);
      continue;
    }
    const earlier = rows.get(id);
    if (earlier) {
      problems.add(file, line, `duplicate id ${id} (first on line ${earlier.line})`);
      continue;
    }
    rows.set(id, { id, value, line });
  }
  return rows;
}

/** A non-negative integer written in decimal, or null. */
export function parseClassId(token: string): number | null {
  return /^(0|[1-9][0-9]{0,14})$/.test(token) ? Number(token) : null;
}

/** Checks an image path for safety and duplicates; true when it is fine. */
export function checkKey(key: string, where: string, seen: Map<string, string>, problems: Problems): boolean {
  const reason = unsafeKeyReason(key);
  if (reason) {
    problems.addAt(where, `path ${JSON.stringify(key)} is unsafe: ${reason}`);
    return false;
  }
  const earlier = seen.get(key);
  if (earlier !== undefined) {
    problems.addAt(where, `path ${key} is listed twice (first at ${earlier})`);
    return false;
  }
  seen.set(key, where);
  return true;
}
