/**
 * prepareDataset on synthetic trees in each dataset's official format: the VPT folder it writes
 * (opened by openDataset), VPT's splits (deterministic, disjoint, stable hashes), few-shot and
 * percentage splits, hostile inputs named by file and line, overwrite protection; the CLI's
 * `prepare` and `datasets` output.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';

import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { formatDatasets, registerDatasetsCommand } from '../../lib/cli/datasets-command.js';
import { registerPrepareCommand } from '../../lib/cli/prepare-command.js';
import { matString, matVariable, parseMatV5 } from '../../lib/data/mat-v5.js';
import { convertCub, openDataset, prepareDataset, VptError } from '../../lib/index.js';
import { tempDir } from '../helpers/common.js';
import { writeCubTree } from '../helpers/data.js';
import {
  writeCarsTree,
  writeDogsTree,
  writeFlowersTree,
  writeNabirdsTree,
  writeVtabTree,
} from '../helpers/datasets.js';
import { writeMat } from '../helpers/mat.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await tmp.cleanup();
});

const readJson = async (path: string) => JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;

/** The error prepareDataset throws. */
async function failure(p: Promise<unknown>): Promise<VptError> {
  const error = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VptError);
  return error as VptError;
}

/** Checks the written folder: openDataset reads it, splits are disjoint, splits.json hashes the files. */
async function checkFolder(out: string, classes: number): Promise<void> {
  const data = await openDataset(out);
  expect(data.numClasses).toBe(classes);
  const keys = Object.values(data.splits).flatMap((s) => s.map((x) => x.key));
  expect(new Set(keys).size).toBe(keys.length);
  const manifest = (await readJson(join(out, 'splits.json'))) as {
    splits: Record<string, { file: string; sha256: string; images: number }>;
  };
  for (const s of Object.values(manifest.splits)) {
    const bytes = await readFile(join(out, s.file));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(s.sha256);
    expect(Object.keys(JSON.parse(bytes.toString()))).toHaveLength(s.images);
  }
}

describe('prepareDataset: each dataset from its official files', () => {
  it('NABirds: uuid ids joined by id, sparse class ids -> 1..C with names, val carved per class', async () => {
    await writeNabirdsTree(tmp.dir, { train: 10, test: 3 });
    const r = await prepareDataset('nabirds', tmp.dir);
    expect(r.out).toBe(join(tmp.dir, 'vpt'));
    expect(r.splits.map((s) => [s.name, s.images])).toEqual([
      ['train', 27],
      ['val', 3],
      ['test', 9],
    ]);
    expect(await readFile(join(r.out, 'classes.txt'), 'utf8')).toBe(
      '1 Species 295 (Adult)\n2 Species 302 (Adult)\n3 Species 309 (Adult)\n',
    );
    expect(new Set(Object.values(await readJson(join(r.out, 'test.json'))))).toEqual(new Set([1, 2, 3]));
    expect(r.imagesLink).toEqual({ path: join(r.out, 'images'), target: '../images' });
    await checkFolder(r.out, 3);
    const m = (await readJson(r.manifest)) as Record<string, unknown>;
    expect(m).toMatchObject({
      dataset: 'nabirds',
      preprocess: 'fgvc',
      seed: 0,
      valFraction: 0.1,
      officialClassIds: [295, 302, 309],
    });
    expect(m.paper).toEqual({ train: 21536, val: 2393, test: 24633 });
  });

  it('Flowers-102: the official train / val / test of setid.mat (compressed MAT v5)', async () => {
    await writeFlowersTree(tmp.dir);
    const r = await prepareDataset('flowers', tmp.dir);
    expect(r.splits.map((s) => [s.name, s.images])).toEqual([
      ['train', 12],
      ['val', 6],
      ['test', 6],
    ]);
    expect(r.splits[1]!.what).toBe('official val (setid.mat valid)');
    expect(Object.keys(await readJson(join(r.out, 'train.json')))[0]).toBe('image_00001.jpg');
    expect(r.imagesLink?.target).toBe('../jpg');
    await checkFolder(r.out, 3);
    const e = await failure(prepareDataset('flowers', tmp.dir, { valFraction: 0.2, force: true }));
    expect(e.code).toBe('VPT_OPTION');
    expect(e.message).toMatch(/official val split/);
  });

  it('Stanford Dogs: train_list.mat / test_list.mat, class names from the folders', async () => {
    await writeDogsTree(tmp.dir, { compress: false, train: 10 });
    const r = await prepareDataset('dogs', tmp.dir);
    expect(r.splits.map((s) => s.images)).toEqual([27, 3, 6]);
    expect((await readFile(join(r.out, 'classes.txt'), 'utf8')).split('\n')[0]).toBe('1 n02085620-Breed_1');
    await checkFolder(r.out, 3);
  });

  it('Stanford Dogs: train_list.txt / test_list.txt (lists/), labels in the order of the breed folders', async () => {
    await writeDogsTree(tmp.dir, { train: 10 });
    const fromMat = await prepareDataset('dogs', tmp.dir, { out: join(tmp.dir, 'mat') });
    const matJson = await Promise.all(
      ['train', 'val', 'test'].map((n) => readFile(join(fromMat.out, `${n}.json`), 'utf8')),
    );
    // The same lists as text, lines shuffled (labels come from the folders, not the line order), in lists/.
    await mkdir(join(tmp.dir, 'lists'));
    for (const name of ['train', 'test']) {
      const mat = parseMatV5(await readFile(join(tmp.dir, `${name}_list.mat`)), `${name}_list.mat`);
      const vars = matVariable(mat, 'file_list', 'cell', `${name}_list.mat`).cells.map((c) => matString(c)!);
      await rm(join(tmp.dir, `${name}_list.mat`));
      await writeFile(join(tmp.dir, 'lists', `${name}_list.txt`), `${[...vars].reverse().join('\r\n')}\r\n\n`);
    }
    const r = await prepareDataset('dogs', tmp.dir, { out: join(tmp.dir, 'txt') });
    expect(r.sources).toEqual(['train_list.txt', 'test_list.txt']);
    expect(r.splits.map((s) => s.images)).toEqual([27, 3, 6]);
    const labels = (json: string) => Object.entries(JSON.parse(json) as Record<string, number>).sort();
    const txtJson = await Promise.all(['train', 'val', 'test'].map((n) => readFile(join(r.out, `${n}.json`), 'utf8')));
    // Same images and labels as the .mat lists (the val carve follows the list order, so compare train + val).
    expect(labels(txtJson[2]!)).toEqual(labels(matJson[2]!));
    expect([...labels(txtJson[0]!), ...labels(txtJson[1]!)].sort()).toEqual(
      [...labels(matJson[0]!), ...labels(matJson[1]!)].sort(),
    );
    expect(await readFile(join(r.out, 'classes.txt'), 'utf8')).toBe(
      await readFile(join(fromMat.out, 'classes.txt'), 'utf8'),
    );
    expect((await readJson(r.manifest)).officialClassIds).toEqual([1, 2, 3]);
    await checkFolder(r.out, 3);
  });

  for (const layout of ['devkit', 'old'] as const) {
    it(`Stanford Cars (${layout} layout): struct annotations, class names, boxes.json`, async () => {
      await writeCarsTree(tmp.dir, { layout, train: 10 });
      const r = await prepareDataset('cars', tmp.dir);
      expect(r.splits.map((s) => s.images)).toEqual([27, 3, 6]);
      const boxes = await readJson(join(r.out, 'boxes.json'));
      expect(Object.keys(boxes)).toHaveLength(36);
      expect(Object.keys(boxes)[0]).toBe(layout === 'old' ? 'car_ims/000001.jpg' : 'cars_train/00001.jpg');
      expect(Object.values(boxes)[0]).toEqual(layout === 'old' ? [2, 2, 20, 18] : [1, 2, 20, 18]);
      expect((await readFile(join(r.out, 'classes.txt'), 'utf8')).split('\n')[2]).toBe('3 Make 3 Model Sedan 2012');
      // images/ is a folder of links to the image folders alone: no link back to the raw root that
      // holds the prepared folder, which made tree walkers loop.
      const folders = layout === 'old' ? ['car_ims'] : ['cars_train', 'cars_test'];
      expect(r.imagesLink).toEqual({
        path: join(r.out, 'images', layout === 'old' ? 'car_ims' : '{cars_train,cars_test}'),
        target: layout === 'old' ? '../../car_ims' : '../../{cars_train,cars_test}',
      });
      expect((await lstat(join(r.out, 'images'))).isDirectory()).toBe(true);
      expect((await readdir(join(r.out, 'images'))).sort()).toEqual([...folders].sort());
      const realOut = await realpath(r.out);
      for (const f of folders) {
        const target = await realpath(join(r.out, 'images', f));
        expect(target).toBe(await realpath(join(tmp.dir, f)));
        expect(`${realOut}${sep}`.startsWith(`${target}${sep}`)).toBe(false);
      }
      await checkFolder(r.out, 3);
      const data = await openDataset(r.out);
      expect((await lstat(data.splits.train![0]!.path)).isFile()).toBe(true);
      // An output an earlier version wrote, images -> .., is replaced by prepare --force.
      await rm(join(r.out, 'images'), { recursive: true });
      await symlink('..', join(r.out, 'images'));
      await prepareDataset('cars', tmp.dir, { force: true });
      expect((await lstat(join(r.out, 'images'))).isDirectory()).toBe(true);
      await checkFolder(r.out, 3);
    });
  }

  it('CUB via prepare: the same val as convertCub with valFraction, plus splits.json', async () => {
    await writeCubTree(tmp.dir, {
      images: Array.from({ length: 24 }, (_, i) => [i + 1, `c${i % 2}/${i}.jpg`] as [number, string]),
      split: Array.from({ length: 24 }, (_, i) => [i + 1, i < 20 ? 1 : 0] as [number, number]),
      labels: Array.from({ length: 24 }, (_, i) => [i + 1, (i % 2) + 1] as [number, number]),
    });
    const r = await prepareDataset('cub', tmp.dir, { seed: 5 });
    expect(r.out).toBe(tmp.dir);
    const val = await readFile(join(tmp.dir, 'val.json'), 'utf8');
    await convertCub(tmp.dir, { valFraction: 0.1, seed: 5, out: join(tmp.dir, 'legacy') });
    expect(await readFile(join(tmp.dir, 'legacy', 'val.json'), 'utf8')).toBe(val);
    expect(r.splits.map((s) => s.images)).toEqual([18, 2, 4]);
  });

  it('VTAB-1k: train800 / val200 / test as train / val / test, trainval.json, preprocessing vtab', async () => {
    const root = join(tmp.dir, 'cifar');
    await writeVtabTree(root);
    const r = await prepareDataset('vtab-cifar', root);
    expect(r.out).toBe(root);
    expect(r.splits.map((s) => [s.name, s.images])).toEqual([
      ['train', 12],
      ['val', 6],
      ['test', 6],
      ['trainval', 18],
    ]);
    expect(r.preprocess).toBe('vtab');
    expect(Object.entries(await readJson(join(root, 'val.json')))[0]).toEqual(['val200/0_0.jpg', 0]);
    expect(await readJson(r.manifest)).toMatchObject({
      preprocess: 'vtab',
      preprocessing: expect.stringMatching(/Resize to 224x224 \(no crop/),
    });
    await checkFolder(root, 3);
    // `vtab` alone takes the task from the folder's name.
    expect((await prepareDataset('vtab', root, { force: true })).dataset).toBe('vtab-cifar');
  });

  it('an unknown VTAB task or dataset is an error listing the valid names', async () => {
    const e = await failure(prepareDataset('vtab-cifar10', tmp.dir));
    expect(e.code).toBe('VPT_OPTION');
    expect(e.message).toContain('the 19 tasks are: caltech101, cifar, dtd');
    expect(e.message.split(':').pop()!.split(',')).toHaveLength(19);
    expect((await failure(prepareDataset('imagenet', tmp.dir))).message).toMatch(
      /unknown dataset "imagenet"; supported: cub, nabirds/,
    );
  });
});

describe('splits: deterministic, disjoint, stable', () => {
  it('the same seed gives the same bytes and hashes; another seed another val split', async () => {
    await writeDogsTree(tmp.dir, { train: 20, test: 2, images: false });
    const a = await prepareDataset('dogs', tmp.dir, { out: join(tmp.dir, 'a'), seed: 1 });
    const b = await prepareDataset('dogs', tmp.dir, { out: join(tmp.dir, 'b'), seed: 1 });
    const c = await prepareDataset('dogs', tmp.dir, { out: join(tmp.dir, 'c'), seed: 2 });
    expect(b.splits.map((s) => s.sha256)).toEqual(a.splits.map((s) => s.sha256));
    expect(await readFile(b.manifest, 'utf8')).toBe(
      (await readFile(a.manifest, 'utf8')).replaceAll(join(tmp.dir, 'a'), join(tmp.dir, 'b')),
    );
    expect(c.splits[1]!.sha256).not.toBe(a.splits[1]!.sha256);
    expect(c.splits[2]!.sha256).toBe(a.splits[2]!.sha256);
    const train = Object.keys(await readJson(join(tmp.dir, 'a', 'train.json')));
    const val = Object.keys(await readJson(join(tmp.dir, 'a', 'val.json')));
    expect(train.filter((k) => val.includes(k))).toEqual([]);
    expect(train.length + val.length).toBe(60);
    expect(val).toHaveLength(6);
  });

  it('--shots K keeps K per class of train; --percentage P writes train_{P}.json, both seeded', async () => {
    await writeNabirdsTree(tmp.dir, { train: 12, test: 2, images: false });
    const r = await prepareDataset('nabirds', tmp.dir, { shots: 4, percentage: 0.5, seed: 3 });
    expect(r.splits.map((s) => [s.name, s.images])).toEqual([
      ['train', 12],
      ['val', 3],
      ['test', 6],
      ['train_0.5', 6],
    ]);
    const train = await readJson(join(r.out, 'train.json'));
    const counts: Record<string, number> = {};
    for (const id of Object.values(train)) counts[String(id)] = (counts[String(id)] ?? 0) + 1;
    expect(counts).toEqual({ 1: 4, 2: 4, 3: 4 });
    const part = Object.keys(await readJson(join(r.out, 'train_0.5.json')));
    expect(part.every((k) => k in train)).toBe(true);
    const again = await prepareDataset('nabirds', tmp.dir, {
      shots: 4,
      percentage: 0.5,
      seed: 3,
      out: join(tmp.dir, 'again'),
    });
    expect(again.splits.map((s) => s.sha256)).toEqual(r.splits.map((s) => s.sha256));
    const e = await failure(prepareDataset('nabirds', tmp.dir, { shots: 20, force: true }));
    expect(e.code).toBe('VPT_OPTION');
    expect(e.message).toMatch(/3 class\(es\) have fewer than 20 training images: class 295 has 11/);
  });

  it('nothing is overwritten without force; force rewrites', async () => {
    await writeFlowersTree(tmp.dir, { images: false });
    await prepareDataset('flowers', tmp.dir);
    const e = await failure(prepareDataset('flowers', tmp.dir));
    expect(e.code).toBe('VPT_IO');
    expect(e.message).toMatch(/train\.json.*already exist\(s\); pass --force/);
    await prepareDataset('flowers', tmp.dir, { force: true });
  });
});

describe('hostile inputs name the file and line', () => {
  const nabirds = async (file: string, edit: (text: string) => string) => {
    await writeNabirdsTree(tmp.dir, { images: false });
    await writeFile(join(tmp.dir, file), edit(await readFile(join(tmp.dir, file), 'utf8')));
    return failure(prepareDataset('nabirds', tmp.dir));
  };

  it('a missing file', async () => {
    await writeNabirdsTree(tmp.dir, { images: false });
    await rm(join(tmp.dir, 'classes.txt'));
    const e = await failure(prepareDataset('nabirds', tmp.dir));
    expect(e.code).toBe('VPT_DATA');
    expect(e.message).toMatch(/classes\.txt is missing: is this a NABirds folder/);
  });

  it('a ragged line, an unknown id, a duplicate id, a class outside the map, a ".." path', async () => {
    expect((await nabirds('images.txt', (t) => t.replace(/\n[^\n]*\n$/, '\njustonetoken\n'))).message).toMatch(
      /images\.txt:18: expected "<id> <value>", got "justonetoken"/,
    );
    await tmp.cleanup();
    expect((await nabirds('image_class_labels.txt', (t) => `${t}ffff-1 295\n`)).message).toMatch(
      /image_class_labels\.txt:19: image id ffff-1 is not in images\.txt/,
    );
    expect((await nabirds('train_test_split.txt', (t) => `${t}${t.split('\n')[0]}\n`)).message).toMatch(
      /train_test_split\.txt:19: duplicate id \S+ \(first on line 1\)/,
    );
    expect((await nabirds('image_class_labels.txt', (t) => t.replace(/ 295\n/, ' 296\n'))).message).toMatch(
      /image_class_labels\.txt:1: class id 296 is not in classes\.txt/,
    );
    expect((await nabirds('images.txt', (t) => t.replace(/ 0295\//, ' ../'))).message).toMatch(
      /images\.txt:1: path "\.\.\/\S+" is unsafe: it contains a "\.\." segment/,
    );
  });

  it('MAT files: an image number without a label, a repeated one, a ".." path, a class outside class_names', async () => {
    await writeFlowersTree(tmp.dir, { images: false });
    await writeFile(join(tmp.dir, 'setid.mat'), writeMat({ trnid: [1, 2, 99], valid: [2], tstid: [3] }));
    const e = await failure(prepareDataset('flowers', tmp.dir));
    expect(e.code).toBe('VPT_DATA');
    expect(e.message).toContain('setid.mat: trnid(3): image 99 has no label (imagelabels.mat labels has 24)');
    expect(e.message).toContain('setid.mat: valid(1): image 2 is listed twice (first at setid.mat: trnid(2))');

    await writeDogsTree(join(tmp.dir, 'dogs'), { images: false });
    await writeFile(
      join(tmp.dir, 'dogs', 'test_list.mat'),
      writeMat({ file_list: { cell: ['../etc/passwd'] }, labels: [1] }),
    );
    expect((await failure(prepareDataset('dogs', join(tmp.dir, 'dogs')))).message).toContain(
      'test_list.mat: file_list{1}: path "../etc/passwd" is unsafe',
    );

    await writeFile(
      join(tmp.dir, 'dogs', 'train_list.txt'),
      [
        'n02085620-Breed_1/a.jpg',
        'n02085620-Breed_1/a.jpg extra',
        'no_folder.jpg',
        '../etc/passwd',
        'n02085620-Breed_1/a.jpg',
        'n02085620-Breed_1/',
      ].join('\n'),
    );
    await writeFile(join(tmp.dir, 'dogs', 'test_list.txt'), 'n02085621-Breed_2/b.jpg\n');
    await rm(join(tmp.dir, 'dogs', 'train_list.mat'));
    const txt = (await failure(prepareDataset('dogs', join(tmp.dir, 'dogs')))).message;
    expect(txt).toContain(
      'train_list.txt:2: expected one image path (<breed folder>/<file>.jpg), got "n02085620-Breed_1/a.jpg extra"',
    );
    expect(txt).toContain('train_list.txt:3: "no_folder.jpg" is not <breed folder>/<file>');
    expect(txt).toContain('train_list.txt:4: path "../etc/passwd" is unsafe');
    expect(txt).toContain('train_list.txt:5: path n02085620-Breed_1/a.jpg is listed twice (first at train_list.txt:1)');
    expect(txt).toContain('train_list.txt:6: "n02085620-Breed_1/" is not <breed folder>/<file>');
    await rm(join(tmp.dir, 'dogs', 'test_list.txt'));
    await rm(join(tmp.dir, 'dogs', 'test_list.mat'));
    expect((await failure(prepareDataset('dogs', join(tmp.dir, 'dogs')))).message).toContain(
      `${join(tmp.dir, 'dogs', 'test_list.txt')} is missing (also looked for lists/test_list.txt)`,
    );

    await writeCarsTree(join(tmp.dir, 'cars'), { layout: 'old', images: false, classes: 2 });
    await writeFile(
      join(tmp.dir, 'cars', 'cars_annos.mat'),
      writeMat({
        annotations: {
          struct: [
            { relative_im_path: 'car_ims/1.jpg', bbox_x1: 1, bbox_y1: 1, bbox_x2: 2, bbox_y2: 2, class: 7, test: 0 },
          ],
        },
        class_names: { cell: ['A', 'B'], dims: [1, 2] },
      }),
    );
    expect((await failure(prepareDataset('cars', join(tmp.dir, 'cars')))).message).toContain(
      'cars_annos.mat: annotations(1).class: 7 is outside class_names (1..2)',
    );
    await writeFile(join(tmp.dir, 'cars', 'cars_annos.mat'), Buffer.from('not a mat file'));
    const bad = await failure(prepareDataset('cars', join(tmp.dir, 'cars')));
    expect(bad.code).toBe('VPT_DATA');
    expect(bad.message).toContain(`${join(tmp.dir, 'cars', 'cars_annos.mat')}: malformed MAT-file`);
  });

  it('VTAB lists: a label outside the task, ragged and duplicate lines, train800val200 not train + val', async () => {
    const root = join(tmp.dir, 'eurosat');
    await writeVtabTree(root, { images: false });
    await writeFile(
      join(root, 'val200.txt'),
      'images/val200/a.jpg 10\nnolabel\nimages/val200/b.jpg 1\nimages/val200/b.jpg 1\n',
    );
    const e = await failure(prepareDataset('vtab-eurosat', root));
    expect(e.code).toBe('VPT_DATA');
    expect(e.message).toContain("val200.txt:1: label 10 is outside the task's 10 classes (0..9)");
    expect(e.message).toContain('val200.txt:2: expected "<path> <label>", got "nolabel"');
    expect(e.message).toContain('val200.txt:4: path val200/b.jpg is listed twice (first at val200.txt:3)');
    expect(e.message).toMatch(/train800val200\.txt:\d+: val200\/0_0\.jpg is in neither train800\.txt nor val200\.txt/);
  });

  it('a test class without training images', async () => {
    await writeFlowersTree(tmp.dir, { images: false });
    await writeFile(join(tmp.dir, 'imagelabels.mat'), writeMat({ labels: [...Array(23).fill(1), 9] }));
    const e = await failure(prepareDataset('flowers', tmp.dir));
    expect(e.message).toContain('setid.mat: tstid(6): class 9 has no training image');
  });
});

describe('the CLI', () => {
  async function run(register: (p: Command) => void, args: string[]): Promise<string> {
    const program = new Command().exitOverride();
    register(program);
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    await program.parseAsync(args, { from: 'user' });
    vi.restoreAllMocks();
    return out;
  }

  it('prepare says what it wrote and which split is what', async () => {
    await writeCarsTree(tmp.dir, { images: false });
    const out = await run(registerPrepareCommand, [
      'prepare',
      'cars',
      tmp.dir,
      '--seed',
      '4',
      '--val-fraction',
      '0.25',
    ]);
    expect(out).toContain(
      `prepared cars (3 classes) from cars_train_annos.mat, cars_test_annos_withlabels.mat, cars_meta.mat into ${join(tmp.dir, 'vpt')}`,
    );
    expect(out).toMatch(/train\.json\s+9 images {2}sha256 [0-9a-f]{16} {2}official train minus val/);
    expect(out).toMatch(
      /val\.json\s+3 images {2}sha256 [0-9a-f]{16} {2}0\.25 of each class of the official train split \(stratified, seed 4\)/,
    );
    expect(out).toMatch(/test\.json\s+6 images/);
    expect(out).toContain(`wrote ${join(tmp.dir, 'vpt', 'boxes.json')}`);
    expect(out).toContain("the VPT paper's split sizes (its appendix table): train 7329 / val 815 / test 8041");
    expect(out).toContain(
      'warning: the official splits hold train 12 / test 6, but Krause et al., 3dRR 2013 and the devkit (16,185 images) gives train 8144 / test 8041',
    );
  });

  it('datasets lists every dataset with files, source and terms', async () => {
    const out = await run(registerDatasetsCommand, ['datasets']);
    expect(out).toBe(formatDatasets());
    for (const name of ['cub', 'nabirds', 'flowers', 'dogs', 'cars', 'vtab-<task>'])
      expect(out).toMatch(new RegExp(`^${name} `, 'm'));
    expect(out.match(/^ {2}terms: /gm)).toHaveLength(6);
    expect(out).toContain('smallnorb_ele (9)');
  });
});
