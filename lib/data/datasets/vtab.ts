/**
 * VTAB-1k from image folders (no TensorFlow): a task folder holds `images/` and the split lists
 * train800.txt, val200.txt, train800val200.txt and test.txt, one `<path> <label>` per line (path
 * relative to the task folder, under images/, or relative to images/ itself). VPT's splits: train
 * = train800, val = val200, test = test; train800val200 (VPT's final runs) must be train800 +
 * val200 and is written as trainval.json.
 */
import { join } from 'node:path';

import { ErrorCode, VptError } from '../../errors.js';
import {
  checkKey,
  lines,
  type OfficialDataset,
  type OfficialImage,
  Problems,
  parseClassId,
  readText,
} from './common.js';

/** The 19 VTAB-1k tasks (the image-folder release's names) and their class counts. */
export const VTAB_TASKS: Readonly<Record<string, number>> = {
  caltech101: 102,
  cifar: 100,
  dtd: 47,
  oxford_flowers102: 102,
  oxford_iiit_pet: 37,
  svhn: 10,
  sun397: 397,
  patch_camelyon: 2,
  eurosat: 10,
  resisc45: 45,
  diabetic_retinopathy: 5,
  clevr_count: 8,
  clevr_dist: 6,
  dmlab: 6,
  kitti: 4,
  dsprites_loc: 16,
  dsprites_ori: 16,
  smallnorb_azi: 18,
  smallnorb_ele: 9,
};

/** VTAB's groups, for the listing. */
export const VTAB_GROUPS: Readonly<Record<string, string[]>> = {
  natural: ['caltech101', 'cifar', 'dtd', 'oxford_flowers102', 'oxford_iiit_pet', 'svhn', 'sun397'],
  specialized: ['patch_camelyon', 'eurosat', 'resisc45', 'diabetic_retinopathy'],
  structured: [
    'clevr_count',
    'clevr_dist',
    'dmlab',
    'kitti',
    'dsprites_loc',
    'dsprites_ori',
    'smallnorb_azi',
    'smallnorb_ele',
  ],
};

/** Checks a task name; an unknown one is VPT_OPTION listing the 19. */
export function vtabTask(name: string): string {
  if (Object.hasOwn(VTAB_TASKS, name)) return name;
  throw new VptError(
    ErrorCode.Option,
    `unknown VTAB-1k task ${JSON.stringify(name)}; the 19 tasks are: ${Object.keys(VTAB_TASKS).join(', ')}`,
  );
}

export const VTAB_FILES = ['train800.txt', 'val200.txt', 'train800val200.txt', 'test.txt'] as const;

/** One split list: `<path> <label>` lines (the label is the last token, so paths may hold spaces). */
function parseList(
  text: string,
  file: string,
  classes: number,
  seen: Map<string, string>,
  problems: Problems,
): OfficialImage[] {
  const out: OfficialImage[] = [];
  for (const { line, content } of lines(text)) {
    const match = /^(.+?)\s+(\S+)$/.exec(content);
    if (!match) {
      problems.add(file, line, `expected "<path> <label>", got ${JSON.stringify(content)}`);
      continue;
    }
    const [, rawPath, labelToken] = match as unknown as [string, string, string];
    const label = parseClassId(labelToken);
    if (label === null) {
      problems.add(file, line, `label ${JSON.stringify(labelToken)} is not a non-negative integer`);
      continue;
    }
    if (label >= classes) {
      problems.add(file, line, `label ${label} is outside the task's ${classes} classes (0..${classes - 1})`);
      continue;
    }
    const key = rawPath.replace(/^\.\//, '').replace(/^images\//, '');
    if (!checkKey(key, `${file}:${line}`, seen, problems)) continue;
    out.push({ key, classId: label, origin: `${file}:${line}` });
  }
  return out;
}

/** Reads a VTAB-1k task folder. */
export async function readVtab(root: string, task: string): Promise<OfficialDataset> {
  const classes = VTAB_TASKS[vtabTask(task)]!;
  const hint = `is this a VTAB-1k task folder (images/, ${VTAB_FILES.join(', ')})?`;
  const texts = await Promise.all(VTAB_FILES.map((f) => readText(join(root, f), hint)));
  const problems = new Problems();
  // Duplicates are checked within each file; train800 and val200 must be disjoint.
  const seenTrainVal = new Map<string, string>();
  const train = parseList(texts[0]!, VTAB_FILES[0], classes, seenTrainVal, problems);
  const val = parseList(texts[1]!, VTAB_FILES[1], classes, seenTrainVal, problems);
  const trainval = parseList(texts[2]!, VTAB_FILES[2], classes, new Map(), problems);
  const test = parseList(texts[3]!, VTAB_FILES[3], classes, new Map(), problems);
  const inTest = new Map(test.map((im) => [im.key, im.origin]));
  for (const im of [...train, ...val]) {
    const t = inTest.get(im.key);
    if (t) problems.addAt(im.origin, `${im.key} is also in test (${t})`);
  }
  const expected = new Map([...train, ...val].map((im) => [im.key, im]));
  for (const im of trainval) {
    const e = expected.get(im.key);
    if (!e) problems.addAt(im.origin, `${im.key} is in neither train800.txt nor val200.txt`);
    else if (e.classId !== im.classId)
      problems.addAt(im.origin, `label ${im.classId}, but ${e.classId} at ${e.origin}`);
    expected.delete(im.key);
  }
  for (const im of expected.values()) problems.addAt(im.origin, `${im.key} is missing from train800val200.txt`);
  problems.throwIfAny(`VTAB-1k task ${task} in ${root}`);
  return {
    imageBase: join(root, 'images'),
    train,
    val,
    test,
    trainval,
    relabel: false,
    preprocess: 'vtab',
    sources: [...VTAB_FILES],
  };
}
