/**
 * Readers of the five FGVC datasets' official files, each giving the official splits
 * (`OfficialDataset`) joined by id, never by line position, with every problem named by file and
 * line (or MAT variable and index).
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';

import { ErrorCode, VptError } from '../../errors.js';
import { readCubMetadata } from '../cub-metadata.js';
import { type MatArray, matScalar, matString, matVariable, readMatV5 } from '../mat-v5.js';
import {
  checkKey,
  lines,
  type OfficialDataset,
  type OfficialImage,
  Problems,
  parseClassId,
  parseRows,
  readText,
} from './common.js';

/** CUB-200-2011: images.txt, train_test_split.txt, image_class_labels.txt (+ classes.txt). */
export async function readCub(root: string): Promise<OfficialDataset> {
  const { images, classes } = await readCubMetadata(root);
  const toImage = (im: (typeof images)[number]): OfficialImage => ({
    key: im.path,
    classId: im.classId,
    origin: `images.txt:${im.line}`,
  });
  return {
    imageBase: join(root, 'images'),
    train: images.filter((im) => im.isTraining).map(toImage),
    test: images.filter((im) => !im.isTraining).map(toImage),
    ...(classes ? { classNames: classes } : {}),
    relabel: false,
    preprocess: 'fgvc',
    sources: ['images.txt', 'train_test_split.txt', 'image_class_labels.txt', ...(classes ? ['classes.txt'] : [])],
  };
}

/**
 * NABirds: images.txt (`<uuid> <path>`), train_test_split.txt (`<uuid> 1|0`),
 * image_class_labels.txt (`<uuid> <class id>`), classes.txt (`<class id> <name>`, the whole
 * hierarchy; only the classes with images are kept, mapped to 1..C).
 */
export async function readNabirds(root: string): Promise<OfficialDataset> {
  const hint =
    'is this a NABirds folder (images/, images.txt, train_test_split.txt, image_class_labels.txt, classes.txt)?';
  const [imagesText, splitText, labelsText, classesText] = await Promise.all(
    ['images.txt', 'train_test_split.txt', 'image_class_labels.txt', 'classes.txt'].map((f) =>
      readText(join(root, f), hint),
    ),
  );
  const problems = new Problems();
  const uuid = /^[0-9A-Za-z-]{1,64}$/;
  const images = parseRows(imagesText!, 'images.txt', problems, uuid);
  const split = parseRows(splitText!, 'train_test_split.txt', problems, uuid);
  const labels = parseRows(labelsText!, 'image_class_labels.txt', problems, uuid);
  const classRows = parseRows(classesText!, 'classes.txt', problems, /^(0|[1-9][0-9]{0,14})$/);
  const classNames = new Map([...classRows.values()].map((r) => [Number(r.id), r.value]));

  const seen = new Map<string, string>();
  for (const row of images.values()) checkKey(row.value, `images.txt:${row.line}`, seen, problems);
  for (const row of split.values()) {
    if (row.value !== '0' && row.value !== '1')
      problems.add('train_test_split.txt', row.line, `is_training must be 1 or 0, got ${JSON.stringify(row.value)}`);
  }
  for (const row of labels.values()) {
    const id = parseClassId(row.value);
    if (id === null)
      problems.add('image_class_labels.txt', row.line, `class id ${JSON.stringify(row.value)} is not an integer`);
    else if (!classNames.has(id))
      problems.add('image_class_labels.txt', row.line, `class id ${id} is not in classes.txt`);
  }
  for (const [file, rows] of [
    ['train_test_split.txt', split],
    ['image_class_labels.txt', labels],
  ] as const) {
    for (const row of images.values())
      if (!rows.has(row.id)) problems.add(file, null, `no row for image id ${row.id} (images.txt:${row.line})`);
    for (const row of rows.values())
      if (!images.has(row.id)) problems.add(file, row.line, `image id ${row.id} is not in images.txt`);
  }
  problems.throwIfAny(`NABirds metadata in ${root}`);

  const train: OfficialImage[] = [];
  const test: OfficialImage[] = [];
  for (const row of images.values()) {
    const im = { key: row.value, classId: Number(labels.get(row.id)!.value), origin: `images.txt:${row.line}` };
    (split.get(row.id)!.value === '1' ? train : test).push(im);
  }
  return {
    imageBase: join(root, 'images'),
    train,
    test,
    classNames,
    relabel: true,
    preprocess: 'fgvc',
    sources: ['images.txt', 'train_test_split.txt', 'image_class_labels.txt', 'classes.txt'],
  };
}

/** A MAT numeric array's values as 1-based positive integers; bad ones are problems at `name(i)`. */
function positiveInts(v: MatArray, file: string, name: string, problems: Problems): number[] {
  if (v.type !== 'numeric') {
    problems.addAt(`${file}: ${name}`, `is a ${v.type} array, expected numbers`);
    return [];
  }
  const out: number[] = [];
  v.data.forEach((x, i) => {
    if (!Number.isSafeInteger(x) || x < 1)
      problems.addAt(`${file}: ${name}(${i + 1})`, `${x} is not a positive integer`);
    out.push(x);
  });
  return out;
}

/**
 * Oxford Flowers-102: imagelabels.mat (`labels`, 1..102 per image) and setid.mat (`trnid`,
 * `valid`, `tstid`: 1-based image numbers), images jpg/image_00001.jpg ...: the official
 * train / val / test (1,020 / 1,020 / 6,149).
 */
export async function readFlowers(root: string): Promise<OfficialDataset> {
  const labelsFile = 'imagelabels.mat';
  const setFile = 'setid.mat';
  const [labelVars, setVars] = await Promise.all([readMatV5(join(root, labelsFile)), readMatV5(join(root, setFile))]);
  const problems = new Problems();
  const labels = positiveInts(matVariable(labelVars, 'labels', 'numeric', labelsFile), labelsFile, 'labels', problems);
  const where = new Map<number, string>();
  const splits = (['trnid', 'valid', 'tstid'] as const).map((name) => {
    const ids = positiveInts(matVariable(setVars, name, 'numeric', setFile), setFile, name, problems);
    const out: OfficialImage[] = [];
    ids.forEach((id, i) => {
      const at = `${setFile}: ${name}(${i + 1})`;
      if (!Number.isSafeInteger(id) || id < 1) return;
      if (id > labels.length) {
        problems.addAt(at, `image ${id} has no label (${labelsFile} labels has ${labels.length})`);
        return;
      }
      const earlier = where.get(id);
      if (earlier) {
        problems.addAt(at, `image ${id} is listed twice (first at ${earlier})`);
        return;
      }
      where.set(id, at);
      out.push({ key: `image_${String(id).padStart(5, '0')}.jpg`, classId: labels[id - 1]!, origin: at });
    });
    return out;
  });
  problems.throwIfAny(`Oxford Flowers-102 annotations in ${root}`);
  return {
    imageBase: join(root, 'jpg'),
    train: splits[0]!,
    val: splits[1]!,
    test: splits[2]!,
    relabel: true,
    preprocess: 'fgvc',
    sources: [labelsFile, setFile],
  };
}

/** The strings of a cell array of char arrays; bad cells are problems. */
function cellStrings(v: MatArray, file: string, name: string, problems: Problems): string[] {
  if (v.type !== 'cell') {
    problems.addAt(`${file}: ${name}`, `is a ${v.type} array, expected a cell array of strings`);
    return [];
  }
  return v.cells.map((c, i) => {
    const s = matString(c);
    if (s === null) problems.addAt(`${file}: ${name}{${i + 1}}`, 'is not a string');
    return s ?? '';
  });
}

/**
 * Stanford Dogs, from the split lists of lists.tar, in the root or lists/:
 * - train_list.mat and test_list.mat (`file_list`: paths under Images/, `labels`: 1..120), or
 * - train_list.txt and test_list.txt, one path under Images/ per line
 *   (`n02085620-Chihuahua/n02085620_5927.jpg`), used when there is no train_list.mat. Their
 *   labels are what the .mat lists give: 1..120 in the order of the breed folders' names (the
 *   folders start with their WordNet ids, so class 1 is n02085620-Chihuahua), over the folders
 *   of both lists.
 * Class names are the image folders' names.
 */
export async function readDogs(root: string): Promise<OfficialDataset> {
  const problems = new Problems();
  const seen = new Map<string, string>();
  const classNames = new Map<number, string>();
  const nameAt = new Map<number, string>();
  const hint = (file: string) =>
    `is this a Stanford Dogs folder (Images/ and ${file} from lists.tar; the lists may be train_list.mat + test_list.mat or train_list.txt + test_list.txt)?`;
  const folderOf = (key: string) => (key.includes('/') ? key.slice(0, key.indexOf('/')) : '');
  const add = (out: OfficialImage[], key: string, classId: number, at: string) => {
    if (!checkKey(key, at, seen, problems)) return;
    const folder = folderOf(key);
    const earlier = classNames.get(classId);
    if (earlier === undefined) {
      classNames.set(classId, folder);
      nameAt.set(classId, at);
    } else if (earlier !== folder) {
      problems.addAt(at, `label ${classId} is folder ${folder}, but ${earlier} at ${nameAt.get(classId)}`);
    }
    out.push({ key, classId, origin: at });
  };
  const readMatList = async (file: string): Promise<OfficialImage[]> => {
    const path = await firstExisting(root, [file, join('lists', file)], hint(file));
    const vars = await readMatV5(path);
    const files = cellStrings(matVariable(vars, 'file_list', 'cell', file), file, 'file_list', problems);
    const labels = positiveInts(matVariable(vars, 'labels', 'numeric', file), file, 'labels', problems);
    if (files.length !== labels.length)
      problems.addAt(file, `file_list has ${files.length} entries, labels ${labels.length}`);
    const out: OfficialImage[] = [];
    files.forEach((key, i) => {
      const classId = labels[i];
      if (classId === undefined || !Number.isSafeInteger(classId) || classId < 1) return;
      add(out, key, classId, `${file}: file_list{${i + 1}}`);
    });
    return out;
  };
  /** A .txt list's paths with their `file:line`; malformed lines are problems. */
  const readTxtList = async (file: string): Promise<Array<{ key: string; at: string }>> => {
    const path = await firstExisting(root, [file, join('lists', file)], hint(file));
    const out: Array<{ key: string; at: string }> = [];
    for (const { line, content } of lines(await readText(path, hint(file)))) {
      if (/\s/.test(content)) {
        problems.add(file, line, `expected one image path (<breed folder>/<file>.jpg), got ${JSON.stringify(content)}`);
        continue;
      }
      const slash = content.indexOf('/');
      if (slash <= 0 || slash === content.length - 1) {
        problems.add(
          file,
          line,
          `${JSON.stringify(content)} is not <breed folder>/<file>: the breed folder gives the label`,
        );
        continue;
      }
      out.push({ key: content, at: `${file}:${line}` });
    }
    return out;
  };

  const useMat =
    (await exists(join(root, 'train_list.mat'))) ||
    (await exists(join(root, 'lists', 'train_list.mat'))) ||
    !((await exists(join(root, 'train_list.txt'))) || (await exists(join(root, 'lists', 'train_list.txt'))));
  let train: OfficialImage[] = [];
  let test: OfficialImage[] = [];
  let sources: string[];
  if (useMat) {
    train = await readMatList('train_list.mat');
    test = await readMatList('test_list.mat');
    sources = ['train_list.mat', 'test_list.mat'];
  } else {
    const trainRows = await readTxtList('train_list.txt');
    const testRows = await readTxtList('test_list.txt');
    const folders = [...new Set([...trainRows, ...testRows].map((r) => folderOf(r.key)))].sort();
    const labelOf = new Map(folders.map((f, i) => [f, i + 1]));
    for (const r of trainRows) add(train, r.key, labelOf.get(folderOf(r.key))!, r.at);
    for (const r of testRows) add(test, r.key, labelOf.get(folderOf(r.key))!, r.at);
    sources = ['train_list.txt', 'test_list.txt'];
  }
  problems.throwIfAny(`Stanford Dogs lists in ${root}`);
  return {
    imageBase: join(root, 'Images'),
    train,
    test,
    classNames,
    relabel: true,
    preprocess: 'fgvc',
    sources,
  };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The first of `candidates` (relative to root) that exists; VPT_DATA naming them otherwise. */
async function firstExisting(root: string, candidates: string[], hint: string): Promise<string> {
  for (const c of candidates) if (await exists(join(root, c))) return join(root, c);
  throw new VptError(
    ErrorCode.Data,
    `${join(root, candidates[0]!)} is missing (also looked for ${candidates.slice(1).join(', ')}): ${hint}`,
  );
}

/** The first path components of the keys (cars_train, cars_test; car_ims), in order of appearance. */
function topFolders(images: OfficialImage[]): string[] {
  return [...new Set(images.map((im) => im.key.split('/')[0]!))];
}

/** One Cars annotation struct element -> image; problems name `file: annotations(i).field`. */
function carsImage(
  el: Record<string, MatArray>,
  i: number,
  file: string,
  keyOf: (el: Record<string, MatArray>, at: string) => string | null,
  seen: Map<string, string>,
  problems: Problems,
): OfficialImage | null {
  const at = `${file}: annotations(${i + 1})`;
  let ok = true;
  const num = (field: string): number => {
    const x = matScalar(el[field]);
    if (x === null || !Number.isFinite(x)) {
      problems.addAt(`${at}.${field}`, 'is missing or not a number');
      ok = false;
      return 0;
    }
    return x;
  };
  const box: [number, number, number, number] = [num('bbox_x1'), num('bbox_y1'), num('bbox_x2'), num('bbox_y2')];
  const classId = num('class');
  if (ok && (!Number.isSafeInteger(classId) || classId < 1)) {
    problems.addAt(`${at}.class`, `${classId} is not a positive integer`);
    ok = false;
  }
  const key = keyOf(el, at);
  if (key === null || !checkKey(key, at, seen, problems) || !ok) return null;
  return { key, classId, origin: at, box };
}

/**
 * Stanford Cars, either layout:
 * - the devkit: cars_train_annos.mat, cars_test_annos_withlabels.mat, cars_meta.mat (in the root
 *   or devkit/) with images in cars_train/ and cars_test/;
 * - the older cars_annos.mat (`relative_im_path`, `test` flag, `class_names`) with car_ims/.
 * Bounding boxes are kept (boxes.json).
 */
export async function readCars(root: string): Promise<OfficialDataset> {
  const problems = new Problems();
  const seen = new Map<string, string>();
  const devkitTrain = ['cars_train_annos.mat', join('devkit', 'cars_train_annos.mat')];
  const hasDevkit = (await exists(join(root, devkitTrain[0]!))) || (await exists(join(root, devkitTrain[1]!)));
  const hint =
    'is this a Stanford Cars folder (the devkit: cars_train/, cars_test/, cars_train_annos.mat, cars_test_annos_withlabels.mat, cars_meta.mat; or car_ims/ + cars_annos.mat)?';
  const names = (v: MatArray, file: string): Map<number, string> =>
    new Map(cellStrings(v, file, 'class_names', problems).map((n, i) => [i + 1, n]));
  const structOf = (vars: Map<string, MatArray>, file: string) => matVariable(vars, 'annotations', 'struct', file);
  const checkClass = (images: OfficialImage[], classNames: Map<number, string>) => {
    for (const im of images)
      if (!classNames.has(im.classId))
        problems.addAt(`${im.origin}.class`, `${im.classId} is outside class_names (1..${classNames.size})`);
  };

  if (!hasDevkit) {
    const file = 'cars_annos.mat';
    const vars = await readMatV5(await firstExisting(root, [file], hint));
    const classNames = names(matVariable(vars, 'class_names', 'cell', file), file);
    const train: OfficialImage[] = [];
    const test: OfficialImage[] = [];
    structOf(vars, file).elements.forEach((el, i) => {
      const key = (e: Record<string, MatArray>, at: string) => {
        const s = matString(e.relative_im_path);
        if (s === null) problems.addAt(`${at}.relative_im_path`, 'is missing or not a string');
        return s;
      };
      const im = carsImage(el, i, file, key, seen, problems);
      const flag = matScalar(el.test);
      if (flag !== 0 && flag !== 1)
        problems.addAt(`${file}: annotations(${i + 1}).test`, `must be 0 or 1, got ${flag}`);
      else if (im) (flag === 1 ? test : train).push(im);
    });
    checkClass([...train, ...test], classNames);
    problems.throwIfAny(`Stanford Cars annotations in ${root}`);
    return {
      imageBase: root,
      imageFolders: topFolders([...train, ...test]),
      train,
      test,
      classNames,
      relabel: true,
      preprocess: 'fgvc',
      sources: [file],
    };
  }

  const trainFile = 'cars_train_annos.mat';
  const testFile = 'cars_test_annos_withlabels.mat';
  const metaFile = 'cars_meta.mat';
  const [trainVars, testVars, metaVars] = await Promise.all(
    [trainFile, testFile, metaFile].map(async (f) =>
      readMatV5(await firstExisting(root, [f, join('devkit', f)], hint)),
    ),
  );
  const classNames = names(matVariable(metaVars!, 'class_names', 'cell', metaFile), metaFile);
  const split = (vars: Map<string, MatArray>, file: string, folder: string) => {
    const out: OfficialImage[] = [];
    structOf(vars, file).elements.forEach((el, i) => {
      const key = (e: Record<string, MatArray>, at: string) => {
        const s = matString(e.fname);
        if (s === null) problems.addAt(`${at}.fname`, 'is missing or not a string');
        return s === null ? null : `${folder}/${s}`;
      };
      const im = carsImage(el, i, file, key, seen, problems);
      if (im) out.push(im);
    });
    return out;
  };
  const train = split(trainVars!, trainFile, 'cars_train');
  const test = split(testVars!, testFile, 'cars_test');
  checkClass([...train, ...test], classNames);
  problems.throwIfAny(`Stanford Cars annotations in ${root}`);
  return {
    imageBase: root,
    imageFolders: topFolders([...train, ...test]),
    train,
    test,
    classNames,
    relabel: true,
    preprocess: 'fgvc',
    sources: [trainFile, testFile, metaFile],
  };
}
