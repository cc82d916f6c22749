/**
 * Synthetic raw trees in each benchmark dataset's exact official layout (text lists, MAT v5
 * files written by test/helpers/mat.ts), small enough to convert and train on in a test.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { writeJpeg } from './data.js';
import { writeMat } from './mat.js';

export interface TreeOptions {
  /** Classes (default 3). */
  classes?: number;
  /** Images per class in the official train split (default 4). */
  train?: number;
  /** Images per class in the official val split, where the dataset has one (default 2). */
  val?: number;
  /** Images per class in the official test split (default 2). */
  test?: number;
  /** Write the JPEGs too (default true). */
  images?: boolean;
  /** Compress the MAT files (default true). */
  compress?: boolean;
}

const defaults = (o: TreeOptions) => ({
  classes: o.classes ?? 3,
  train: o.train ?? 4,
  val: o.val ?? 2,
  test: o.test ?? 2,
  images: o.images ?? true,
  compress: o.compress ?? true,
});

/** A 24 x 20 JPEG whose colour depends on the class. */
async function image(path: string, classIndex: number, write: boolean): Promise<void> {
  if (write) await writeJpeg(path, 24, 20, classIndex * 3 + 1);
}

const uuid = (n: number) => `${n.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/** NABirds: uuid ids, sparse class ids (with hierarchy parents that have no images, and id 0). */
export async function writeNabirdsTree(root: string, opts: TreeOptions = {}): Promise<void> {
  const o = defaults(opts);
  const classIds = Array.from({ length: o.classes }, (_, k) => 295 + k * 7);
  const images: string[] = [];
  const split: string[] = [];
  const labels: string[] = [];
  let n = 0;
  for (const [k, id] of classIds.entries()) {
    for (let i = 0; i < o.train + o.test; i++) {
      n++;
      const path = `${String(id).padStart(4, '0')}/${uuid(n).replace(/-/g, '')}.jpg`;
      images.push(`${uuid(n)} ${path}`);
      split.push(`${uuid(n)} ${i < o.train ? 1 : 0}`);
      labels.push(`${uuid(n)} ${id}`);
      await image(join(root, 'images', path), k, o.images);
    }
  }
  const classes = ['0 Birds', '1 Perching Birds', ...classIds.map((id) => `${id} Species ${id} (Adult)`)];
  await mkdir(join(root, 'images'), { recursive: true });
  await writeFile(join(root, 'images.txt'), `${images.join('\n')}\n`);
  // Shuffled: rows are joined by id, not by line.
  await writeFile(join(root, 'train_test_split.txt'), `${[...split].reverse().join('\n')}\n`);
  await writeFile(join(root, 'image_class_labels.txt'), `${labels.join('\n')}\n`);
  await writeFile(join(root, 'classes.txt'), `${classes.join('\n')}\n`);
}

/** Oxford Flowers-102: jpg/image_NNNNN.jpg, imagelabels.mat, setid.mat. */
export async function writeFlowersTree(root: string, opts: TreeOptions = {}): Promise<void> {
  const o = defaults(opts);
  const labels: number[] = [];
  const sets: Record<'trnid' | 'valid' | 'tstid', number[]> = { trnid: [], valid: [], tstid: [] };
  for (let k = 0; k < o.classes; k++) {
    for (const [set, count] of [
      ['trnid', o.train],
      ['valid', o.val],
      ['tstid', o.test],
    ] as const) {
      for (let i = 0; i < count; i++) {
        labels.push(k + 1);
        sets[set].push(labels.length);
        await image(join(root, 'jpg', `image_${String(labels.length).padStart(5, '0')}.jpg`), k, o.images);
      }
    }
  }
  await mkdir(join(root, 'jpg'), { recursive: true });
  await writeFile(
    join(root, 'imagelabels.mat'),
    writeMat({ labels: { numeric: labels, class: 'double', store: 'uint8' } }, { compress: o.compress }),
  );
  await writeFile(
    join(root, 'setid.mat'),
    writeMat(
      { trnid: { numeric: sets.trnid, class: 'double', store: 'uint16' }, valid: sets.valid, tstid: sets.tstid },
      { compress: o.compress },
    ),
  );
}

const dogFolder = (k: number) => `n0208${5620 + k}-Breed_${k + 1}`;

/** Stanford Dogs: Images/<wnid-name>/..., train_list.mat and test_list.mat (file_list, annotation_list, labels). */
export async function writeDogsTree(root: string, opts: TreeOptions = {}): Promise<void> {
  const o = defaults(opts);
  const lists = {
    train: { files: [] as string[], labels: [] as number[] },
    test: { files: [] as string[], labels: [] as number[] },
  };
  for (let k = 0; k < o.classes; k++) {
    for (let i = 0; i < o.train + o.test; i++) {
      const file = `${dogFolder(k)}/n0208${5620 + k}_${1000 + i}.jpg`;
      const list = i < o.train ? lists.train : lists.test;
      list.files.push(file);
      list.labels.push(k + 1);
      await image(join(root, 'Images', file), k, o.images);
    }
  }
  await mkdir(join(root, 'Images'), { recursive: true });
  for (const [name, list] of Object.entries(lists)) {
    await writeFile(
      join(root, `${name}_list.mat`),
      writeMat(
        {
          file_list: { cell: list.files.map((f) => ({ cell: [f], dims: [1, 1] })) },
          annotation_list: { cell: list.files.map((f) => ({ cell: [f.replace(/\.jpg$/, '')], dims: [1, 1] })) },
          labels: { numeric: list.labels, dims: [list.labels.length, 1] },
        },
        { compress: o.compress },
      ),
    );
  }
}

/** Stanford Cars: the devkit layout (cars_train/, cars_test/, devkit/*.mat) or the older car_ims/ + cars_annos.mat. */
export async function writeCarsTree(
  root: string,
  opts: TreeOptions & { layout?: 'devkit' | 'old' } = {},
): Promise<void> {
  const o = defaults(opts);
  const classNames = {
    cell: Array.from({ length: o.classes }, (_, k) => `Make ${k + 1} Model Sedan 2012`),
    dims: [1, o.classes],
  };
  const box = (n: number) => ({ bbox_x1: 1 + n, bbox_y1: 2, bbox_x2: 20, bbox_y2: 18 });
  if (opts.layout === 'old') {
    const annotations: Array<Record<string, never>> = [];
    let n = 0;
    for (let k = 0; k < o.classes; k++) {
      for (let i = 0; i < o.train + o.test; i++) {
        n++;
        const path = `car_ims/${String(n).padStart(6, '0')}.jpg`;
        annotations.push({ relative_im_path: path, ...box(n), class: k + 1, test: i < o.train ? 0 : 1 } as never);
        await image(join(root, path), k, o.images);
      }
    }
    await mkdir(join(root, 'car_ims'), { recursive: true });
    await writeFile(
      join(root, 'cars_annos.mat'),
      writeMat({ annotations: { struct: annotations }, class_names: classNames }, { compress: o.compress }),
    );
    return;
  }
  const splits = { train: [] as Array<Record<string, never>>, test: [] as Array<Record<string, never>> };
  for (let k = 0; k < o.classes; k++) {
    for (let i = 0; i < o.train + o.test; i++) {
      const split = i < o.train ? 'train' : 'test';
      const fname = `${String(splits[split].length + 1).padStart(5, '0')}.jpg`;
      splits[split].push({ ...box(k * 10 + i), class: k + 1, fname } as never);
      await image(join(root, `cars_${split}`, fname), k, o.images);
    }
  }
  await mkdir(join(root, 'devkit'), { recursive: true });
  await mkdir(join(root, 'cars_train'), { recursive: true });
  await mkdir(join(root, 'cars_test'), { recursive: true });
  await writeFile(
    join(root, 'devkit', 'cars_meta.mat'),
    writeMat({ class_names: classNames }, { compress: o.compress }),
  );
  await writeFile(
    join(root, 'devkit', 'cars_train_annos.mat'),
    writeMat({ annotations: { struct: splits.train } }, { compress: o.compress }),
  );
  // The labelled test annotations are a separate download, usually put in the root.
  await writeFile(
    join(root, 'cars_test_annos_withlabels.mat'),
    writeMat({ annotations: { struct: splits.test } }, { compress: o.compress }),
  );
}

/** A VTAB-1k task folder: images/ + train800.txt, val200.txt, train800val200.txt, test.txt (`images/<file> <label>`). */
export async function writeVtabTree(root: string, opts: TreeOptions = {}): Promise<void> {
  const o = defaults(opts);
  const lists: Record<string, string[]> = { train800: [], val200: [], test: [] };
  for (let k = 0; k < o.classes; k++) {
    for (const [list, count] of [
      ['train800', o.train],
      ['val200', o.val],
      ['test', o.test],
    ] as const) {
      for (let i = 0; i < count; i++) {
        const file = `${list}/${k}_${i}.jpg`;
        lists[list]!.push(`images/${file} ${k}`);
        await image(join(root, 'images', file), k, o.images);
      }
    }
  }
  await mkdir(join(root, 'images'), { recursive: true });
  await writeFile(join(root, 'train800.txt'), `${lists.train800!.join('\n')}\n`);
  await writeFile(join(root, 'val200.txt'), `${lists.val200!.join('\n')}\n`);
  await writeFile(join(root, 'train800val200.txt'), `${[...lists.train800!, ...lists.val200!].join('\n')}\n`);
  await writeFile(join(root, 'test.txt'), `${lists.test!.join('\n')}\n`);
}
