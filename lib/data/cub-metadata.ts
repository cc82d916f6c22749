/**
 * `readCubMetadata`: the CUB-200-2011 index files, parsed, checked and joined by image id.
 *
 *   images.txt              <image id> <path under images/>
 *   train_test_split.txt    <image id> <is_training 1|0>
 *   image_class_labels.txt  <image id> <class id>
 *   classes.txt             <class id> <name>            (optional)
 *
 * Every problem is reported with its file and line: malformed lines, duplicate ids, ids missing
 * from one of the files, class ids out of range, unsafe paths. The files need not be aligned
 * line by line; rows are matched by id, and the result keeps the order of images.txt.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { ErrorCode, VptError } from '../errors.js';
import { unsafeKeyReason } from './image-path.js';

/** One image of the dataset. */
export interface CubImage {
  id: number;
  /** Relative to `images/`, as written in images.txt. */
  path: string;
  isTraining: boolean;
  classId: number;
  /** Its line in images.txt (1-based). */
  line: number;
}

export interface CubMetadata {
  /** In images.txt order. */
  images: CubImage[];
  /** Class id -> name, from classes.txt; null without that file. */
  classes: Map<number, string> | null;
}

/** Most problems listed in one error. */
const MAX_LISTED_PROBLEMS = 20;

interface Row {
  id: number;
  value: string;
  line: number;
}

/** Collects problems across files and throws them as one error. */
class Problems {
  readonly #items: string[] = [];

  add(file: string, line: number | null, message: string): void {
    this.#items.push(line === null ? `${file}: ${message}` : `${file}:${line}: ${message}`);
  }

  throwIfAny(root: string): void {
    if (this.#items.length === 0) return;
    const shown = this.#items.slice(0, MAX_LISTED_PROBLEMS);
    const more = this.#items.length > shown.length ? `\n  ... and ${this.#items.length - shown.length} more` : '';
    throw new VptError(
      ErrorCode.Data,
      `CUB metadata in ${root} has ${this.#items.length} problem(s):\n  ${shown.join('\n  ')}${more}`,
    );
  }
}

function isId(token: string): boolean {
  return /^[1-9][0-9]{0,14}$/.test(token);
}

/** `<id> <value>` rows of a file; the value is the rest of the line. Duplicate ids are problems. */
function parseRows(text: string, file: string, problems: Problems): Map<number, Row> {
  const rows = new Map<number, Row>();
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const content = raw.replace(/\r$/, '').trim();
    if (content === '') return;
    const match = /^(\S+)\s+(.+)$/.exec(content);
    if (!match) {
      problems.add(file, line, `expected "<id> <value>", got ${JSON.stringify(content)}`);
      return;
    }
    const [, idToken, value] = match as unknown as [string, string, string];
    if (!isId(idToken)) {
      problems.add(file, line, `id ${JSON.stringify(idToken)} is not a positive integer`);
      return;
    }
    const id = Number(idToken);
    const earlier = rows.get(id);
    if (earlier) {
      problems.add(file, line, `duplicate id ${id} (first on line ${earlier.line})`);
      return;
    }
    rows.set(id, { id, value, line });
  });
  return rows;
}

async function readText(path: string, required: boolean): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new VptError(
      missing ? ErrorCode.Data : ErrorCode.Io,
      missing
        ? `${path} is missing: is this a CUB_200_2011 folder?`
        : `cannot read ${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * Parses a classes.txt (`<class id> <name>` per line) into id -> name.
 * @throws VptError (VPT_DATA) naming each malformed or duplicate line
 */
export function parseClasses(text: string, file: string): Map<number, string> {
  const problems = new Problems();
  const rows = parseRows(text, file, problems);
  problems.throwIfAny(file);
  return new Map([...rows.values()].map((r) => [r.id, r.value]));
}

/**
 * Reads and checks the CUB index files of `root`.
 * @throws VptError (VPT_DATA) listing every problem with file and line
 * @example
 * ```ts
 * const { images, classes } = await readCubMetadata('data/CUB_200_2011');
 * ```
 */
export async function readCubMetadata(root: string): Promise<CubMetadata> {
  const problems = new Problems();
  const [imagesText, splitText, labelsText, classesText] = await Promise.all([
    readText(join(root, 'images.txt'), true),
    readText(join(root, 'train_test_split.txt'), true),
    readText(join(root, 'image_class_labels.txt'), true),
    readText(join(root, 'classes.txt'), false),
  ]);
  const images = parseRows(imagesText!, 'images.txt', problems);
  const split = parseRows(splitText!, 'train_test_split.txt', problems);
  const labels = parseRows(labelsText!, 'image_class_labels.txt', problems);
  const classes = classesText === null ? null : parseRows(classesText, 'classes.txt', problems);

  const lineOfPath = new Map<string, number>();
  for (const row of images.values()) {
    const reason = unsafeKeyReason(row.value);
    if (reason) problems.add('images.txt', row.line, `path ${JSON.stringify(row.value)} is unsafe: ${reason}`);
    const earlier = lineOfPath.get(row.value);
    if (earlier !== undefined)
      problems.add('images.txt', row.line, `path ${row.value} is listed twice (first on line ${earlier})`);
    else lineOfPath.set(row.value, row.line);
  }
  for (const row of split.values()) {
    if (row.value !== '0' && row.value !== '1')
      problems.add('train_test_split.txt', row.line, `is_training must be 1 or 0, got ${JSON.stringify(row.value)}`);
  }
  const classIds = classes ? [...classes.keys()].sort((a, b) => a - b) : [];
  for (const row of labels.values()) {
    if (!isId(row.value)) {
      problems.add(
        'image_class_labels.txt',
        row.line,
        `class id ${JSON.stringify(row.value)} is not a positive integer`,
      );
    } else if (classes && !classes.has(Number(row.value))) {
      problems.add(
        'image_class_labels.txt',
        row.line,
        `class id ${row.value} is not in classes.txt (ids ${classIds[0]}..${classIds[classIds.length - 1]})`,
      );
    }
  }
  for (const [file, rows] of [
    ['train_test_split.txt', split],
    ['image_class_labels.txt', labels],
  ] as const) {
    for (const row of images.values()) {
      if (!rows.has(row.id)) problems.add(file, null, `no row for image id ${row.id} (images.txt:${row.line})`);
    }
    for (const row of rows.values()) {
      if (!images.has(row.id)) problems.add(file, row.line, `image id ${row.id} is not in images.txt`);
    }
  }
  problems.throwIfAny(root);

  return {
    images: [...images.values()].map((row) => ({
      id: row.id,
      path: row.value,
      isTraining: split.get(row.id)!.value === '1',
      classId: Number(labels.get(row.id)!.value),
      line: row.line,
    })),
    classes: classes && new Map([...classes.values()].map((r) => [r.id, r.value])),
  };
}
