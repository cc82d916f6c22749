/**
 * CUB-200-2011 conversion: the default train/val JSON exactly, independence from line order,
 * every malformed case with its file and line, the stratified VPT-protocol split, overwrite
 * protection; refusing an empty val split; removing a stale test.json.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { convertCub } from '../../lib/index.js';
import { tempDir } from '../helpers/common.js';
import { type CubTree, writeCubTree } from '../helpers/data.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

const tree: CubTree = {
  images: [
    [1, '001.Albatross/a_1.jpg'],
    [2, '001.Albatross/a_2.jpg'],
    [3, '002.Grebe/g_1.jpg'],
    [4, '002.Grebe/g_2.jpg'],
    [5, '003.Wren/w_1.jpg'],
  ],
  split: [
    [1, 1],
    [2, 0],
    [3, 1],
    [4, 1],
    [5, 0],
  ],
  labels: [
    [1, 1],
    [2, 1],
    [3, 2],
    [4, 2],
    [5, 3],
  ],
  classes: [
    [1, '001.Albatross'],
    [2, '002.Grebe'],
    [3, '003.Wren'],
  ],
};

// What VPT's conversion wrote (json.dump(d, f, indent=4)): file order, 1-based class ids.
const expectedTrain = '{\n    "001.Albatross/a_1.jpg": 1,\n    "002.Grebe/g_1.jpg": 2,\n    "002.Grebe/g_2.jpg": 2\n}';
const expectedVal = '{\n    "001.Albatross/a_2.jpg": 1,\n    "003.Wren/w_1.jpg": 3\n}';

describe('convertCub (default: the official split as train.json / val.json)', () => {
  it('gives exactly the expected JSON beside images/', async () => {
    await writeCubTree(tmp.dir, tree);
    const r = await convertCub(tmp.dir);
    expect(r.counts).toEqual({ train: 3, val: 2 });
    expect(r.files).toEqual([join(tmp.dir, 'train.json'), join(tmp.dir, 'val.json')]);
    expect(await readFile(join(tmp.dir, 'train.json'), 'utf8')).toBe(expectedTrain);
    expect(await readFile(join(tmp.dir, 'val.json'), 'utf8')).toBe(expectedVal);
    expect((await readdir(tmp.dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('joins rows by image id: shuffled split, label and class files give the same bytes', async () => {
    const reversed = {
      ...tree,
      split: [...tree.split].reverse(),
      labels: [tree.labels[3]!, tree.labels[0]!, tree.labels[4]!, tree.labels[2]!, tree.labels[1]!],
      classes: [...tree.classes!].reverse(),
    };
    await writeCubTree(tmp.dir, reversed);
    await convertCub(tmp.dir);
    expect(await readFile(join(tmp.dir, 'train.json'), 'utf8')).toBe(expectedTrain);
    expect(await readFile(join(tmp.dir, 'val.json'), 'utf8')).toBe(expectedVal);
  });

  it('accepts CRLF line endings and no classes.txt', async () => {
    await writeCubTree(
      tmp.dir,
      { ...tree, classes: null },
      {
        'images.txt': tree.images.map(([id, p]) => `${id} ${p}\r\n`).join(''),
      },
    );
    await convertCub(tmp.dir);
    expect(await readFile(join(tmp.dir, 'train.json'), 'utf8')).toBe(expectedTrain);
  });

  it('refuses to overwrite without force, overwrites with it, and writes elsewhere with out', async () => {
    await writeCubTree(tmp.dir, tree);
    await convertCub(tmp.dir);
    await writeFile(join(tmp.dir, 'val.json'), '{}');
    await expect(convertCub(tmp.dir)).rejects.toMatchObject({
      code: 'VPT_IO',
      message: expect.stringContaining('--force'),
    });
    expect(await readFile(join(tmp.dir, 'val.json'), 'utf8')).toBe('{}');
    await convertCub(tmp.dir, { force: true });
    expect(await readFile(join(tmp.dir, 'val.json'), 'utf8')).toBe(expectedVal);
    const out = join(tmp.dir, 'splits');
    const r = await convertCub(tmp.dir, { out });
    expect(r.files).toEqual([join(out, 'train.json'), join(out, 'val.json')]);
  });

  it('names a misspelled option', async () => {
    await writeCubTree(tmp.dir, tree);
    await expect(convertCub(tmp.dir, { valFration: 0.1 } as never)).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('did you mean "valFraction"'),
    });
  });
});

describe('convertCub reports every malformed input with its file and line', () => {
  const cases: Array<{
    name: string;
    raw?: Partial<Record<string, string | null>>;
    patch?: Partial<CubTree>;
    opts?: object;
    message: RegExp;
  }> = [
    {
      name: 'a line without a value',
      raw: { 'images.txt': '1 001.Albatross/a_1.jpg\n2\n' },
      message: /images\.txt:2: expected "<id> <value>"/,
    },
    {
      name: 'an id that is not a positive integer',
      raw: { 'train_test_split.txt': '1 1\nx2 0\n3 1\n4 1\n5 0\n' },
      message: /train_test_split\.txt:2: id "x2" is not a positive integer/,
    },
    {
      name: 'is_training other than 1/0',
      patch: {
        split: [
          [1, 1],
          [2, 2],
          [3, 1],
          [4, 1],
          [5, 0],
        ],
      },
      message: /train_test_split\.txt:2: is_training must be 1 or 0, got "2"/,
    },
    {
      name: 'a duplicate id',
      patch: {
        labels: [
          [1, 1],
          [2, 1],
          [3, 2],
          [3, 2],
          [4, 2],
          [5, 3],
        ],
      },
      message: /image_class_labels\.txt:4: duplicate id 3 \(first on line 3\)/,
    },
    {
      name: 'an image without a label row',
      patch: {
        labels: [
          [1, 1],
          [2, 1],
          [3, 2],
          [5, 3],
        ],
      },
      message: /image_class_labels\.txt: no row for image id 4 \(images\.txt:4\)/,
    },
    {
      name: 'a label row for an unknown image',
      patch: { labels: [...tree.labels, [9, 1]] },
      message: /image_class_labels\.txt:6: image id 9 is not in images\.txt/,
    },
    {
      name: 'a class id outside classes.txt',
      patch: {
        labels: [
          [1, 1],
          [2, 1],
          [3, 2],
          [4, 4],
          [5, 3],
        ],
      },
      message: /image_class_labels\.txt:4: class id 4 is not in classes\.txt \(ids 1\.\.3\)/,
    },
    {
      name: 'a class id that is not a number',
      raw: { 'image_class_labels.txt': '1 1\n2 one\n3 2\n4 2\n5 3\n' },
      message: /image_class_labels\.txt:2: class id "one" is not a positive integer/,
    },
    {
      name: 'an unsafe image path',
      patch: { images: [[1, '../../etc/passwd'], ...tree.images.slice(1)] },
      message: /images\.txt:1: path "\.\.\/\.\.\/etc\/passwd" is unsafe/,
    },
    {
      name: 'a path listed twice',
      patch: { images: [...tree.images.slice(0, 4), [5, '001.Albatross/a_1.jpg']] },
      message: /images\.txt:5: path 001\.Albatross\/a_1\.jpg is listed twice \(first on line 1\)/,
    },
    {
      name: 'a missing image file (checkImages)',
      opts: { checkImages: true },
      message: /images\.txt:1: images\/001\.Albatross\/a_1\.jpg does not exist/,
    },
    {
      name: 'a missing index file',
      raw: { 'train_test_split.txt': null },
      message: /train_test_split\.txt is missing/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await writeCubTree(tmp.dir, { ...tree, ...c.patch }, c.raw);
      const error = await convertCub(tmp.dir, c.opts).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'VPT_DATA' });
      expect((error as Error).message).toMatch(c.message);
      expect((await readdir(tmp.dir)).filter((f) => f.endsWith('.json'))).toEqual([]);
    });
  }

  it('lists several problems at once', async () => {
    await writeCubTree(tmp.dir, {
      ...tree,
      split: [
        [1, 1],
        [2, 5],
        [3, 1],
        [4, 1],
        [5, 0],
        [5, 0],
      ],
    });
    const message = await convertCub(tmp.dir).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(message).toMatch(/has 2 problem\(s\)/);
    expect(message).toMatch(/train_test_split\.txt:2: is_training must be 1 or 0/);
    expect(message).toMatch(/train_test_split\.txt:6: duplicate id 5/);
  });
});

describe('convertCub with valFraction (the VPT protocol)', () => {
  // 5 classes x (20 training + 6 test) images
  const big: CubTree = { images: [], split: [], labels: [], classes: [] };
  for (let c = 1; c <= 5; c++) {
    big.classes!.push([c, `00${c}.C${c}`]);
    for (let j = 0; j < 26; j++) {
      const id = big.images.length + 1;
      big.images.push([id, `00${c}.C${c}/img_${j}.jpg`]);
      big.split.push([id, j < 20 ? 1 : 0]);
      big.labels.push([id, c]);
    }
  }
  const read = async (name: string) =>
    JSON.parse(await readFile(join(tmp.dir, name), 'utf8')) as Record<string, number>;

  it('is stratified, disjoint, covers the training split, and keeps the official test split', async () => {
    await writeCubTree(tmp.dir, big);
    const r = await convertCub(tmp.dir, { valFraction: 0.2, seed: 7 });
    expect(r.counts).toEqual({ train: 80, val: 20, test: 30 });
    const [train, val, test] = [await read('train.json'), await read('val.json'), await read('test.json')];
    for (let c = 1; c <= 5; c++) expect(Object.values(val).filter((v) => v === c)).toHaveLength(4);
    expect(Object.keys(train).filter((k) => k in val)).toEqual([]);
    const official = big.images.filter(([id]) => big.split[id - 1]![1] === 1).map(([, p]) => p);
    expect([...Object.keys(train), ...Object.keys(val)].sort()).toEqual([...official].sort());
    expect(Object.keys(test)).toEqual(big.images.filter(([id]) => big.split[id - 1]![1] === 0).map(([, p]) => p));
    // file order within each split
    expect(Object.keys(train)).toEqual(official.filter((p) => p in train));
  });

  it('is reproducible for a seed and differs for another', async () => {
    await writeCubTree(tmp.dir, big);
    await convertCub(tmp.dir, { valFraction: 0.2, seed: 7 });
    const first = await read('val.json');
    await convertCub(tmp.dir, { valFraction: 0.2, seed: 7, force: true });
    expect(await read('val.json')).toEqual(first);
    await convertCub(tmp.dir, { valFraction: 0.2, seed: 8, force: true });
    expect(Object.keys(await read('val.json'))).not.toEqual(Object.keys(first));
  });

  it('keeps at least one training image of every class', async () => {
    await writeCubTree(tmp.dir, {
      images: [
        [1, 'a/1.jpg'],
        [2, 'a/2.jpg'],
        [3, 'b/1.jpg'],
      ],
      split: [
        [1, 1],
        [2, 1],
        [3, 1],
      ],
      labels: [
        [1, 1],
        [2, 1],
        [3, 2],
      ],
    });
    await convertCub(tmp.dir, { valFraction: 0.9 });
    expect(new Set(Object.values(await read('train.json')))).toEqual(new Set([1, 2]));
  });
});

describe('convertCub refuses an empty val split and cleans up a stale test.json', () => {
  // 3 classes x (30 training + 2 test) images: CUB's 30 training images per class
  const cub: CubTree = { images: [], split: [], labels: [] };
  for (let c = 1; c <= 3; c++) {
    for (let j = 0; j < 32; j++) {
      const id = cub.images.length + 1;
      cub.images.push([id, `00${c}.C${c}/img_${j}.jpg`]);
      cub.split.push([id, j < 30 ? 1 : 0]);
      cub.labels.push([id, c]);
    }
  }

  it('a valFraction that gives no val image is refused before anything is written, naming the smallest that works', async () => {
    await writeCubTree(tmp.dir, cub);
    const error = await convertCub(tmp.dir, { valFraction: 0.01 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'VPT_OPTION' });
    expect((error as Error).message).toMatch(
      /"valFraction": valFraction 0\.01 would give 0 val images .*the largest has 30 images\); use at least 0\.017$/,
    );
    expect((await readdir(tmp.dir)).filter((f) => f.endsWith('.json'))).toEqual([]);
    // the fraction it names works
    expect((await convertCub(tmp.dir, { valFraction: 0.017 })).counts).toEqual({ train: 87, val: 3, test: 6 });
  });

  it('says so when no class has two training images', async () => {
    await writeCubTree(tmp.dir, {
      images: [
        [1, 'a/1.jpg'],
        [2, 'b/1.jpg'],
      ],
      split: [
        [1, 1],
        [2, 1],
      ],
      labels: [
        [1, 1],
        [2, 2],
      ],
    });
    await expect(convertCub(tmp.dir, { valFraction: 0.5 })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('no class has 2 training images'),
    });
  });

  it('a default conversion with force removes the test.json of an earlier valFraction run', async () => {
    await writeCubTree(tmp.dir, tree);
    await convertCub(tmp.dir, { valFraction: 0.5 });
    expect((await readdir(tmp.dir)).filter((f) => f.endsWith('.json')).sort()).toEqual([
      'test.json',
      'train.json',
      'val.json',
    ]);
    // without force: refused, test.json named, nothing touched
    const refused = await convertCub(tmp.dir).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ code: 'VPT_IO', message: expect.stringContaining(join(tmp.dir, 'test.json')) });
    expect((await readdir(tmp.dir)).filter((f) => f.endsWith('.json')).sort()).toEqual([
      'test.json',
      'train.json',
      'val.json',
    ]);
    const r = await convertCub(tmp.dir, { force: true });
    expect(r.removed).toEqual([join(tmp.dir, 'test.json')]);
    expect((await readdir(tmp.dir)).filter((f) => f.endsWith('.json')).sort()).toEqual(['train.json', 'val.json']);
    expect(await readFile(join(tmp.dir, 'val.json'), 'utf8')).toBe(expectedVal);
    // nothing stale the next time; a valFraction run never removes anything
    expect((await convertCub(tmp.dir, { force: true })).removed).toEqual([]);
    expect((await convertCub(tmp.dir, { valFraction: 0.5, force: true })).removed).toEqual([]);
  });

  it('a stale test.json stays when the new files cannot be written', async () => {
    await writeCubTree(tmp.dir, tree);
    await convertCub(tmp.dir, { valFraction: 0.5 });
    await mkdir(join(tmp.dir, 'splits', 'val.json'), { recursive: true }); // a folder where val.json goes
    await writeFile(join(tmp.dir, 'splits', 'test.json'), '{}');
    await expect(convertCub(tmp.dir, { out: join(tmp.dir, 'splits'), force: true })).rejects.toMatchObject({
      code: 'VPT_IO',
    });
    expect(await readFile(join(tmp.dir, 'splits', 'test.json'), 'utf8')).toBe('{}');
  });
});
