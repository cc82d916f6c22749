/** Helpers of the data tests: CUB index trees, small image files, synthetic datasets. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import sharp from 'sharp';

import { convertCub, type Dataset, openDataset, synthesizeCub } from '../../lib/index.js';

/** CUB index files as [id, value] rows; `null` leaves a file out. */
export interface CubTree {
  images: Array<[number, string]>;
  split: Array<[number, number]>;
  labels: Array<[number, number]>;
  classes?: Array<[number, string]> | null;
}

/** Writes CUB's index files (lines as given, or raw text for malformed cases). */
export async function writeCubTree(
  dir: string,
  tree: CubTree,
  raw: Partial<Record<string, string | null>> = {},
): Promise<void> {
  await mkdir(join(dir, 'images'), { recursive: true });
  const text = (rows: Array<[number, string | number]>) => `${rows.map(([id, v]) => `${id} ${v}`).join('\n')}\n`;
  const files: Record<string, string | null> = {
    'images.txt': text(tree.images),
    'train_test_split.txt': text(tree.split),
    'image_class_labels.txt': text(tree.labels),
    'classes.txt': tree.classes ? text(tree.classes) : null,
    ...raw,
  };
  for (const [name, content] of Object.entries(files)) {
    if (content !== null && content !== undefined) await writeFile(join(dir, name), content);
  }
}

/** A small solid-colour JPEG with a gradient, `width` x `height`. */
export async function writeJpeg(path: string, width: number, height: number, seed = 0): Promise<void> {
  const pixels = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      pixels[i] = (x * 255) / width;
      pixels[i + 1] = (y * 255) / height;
      pixels[i + 2] = (seed * 37) % 256;
    }
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(
    path,
    await sharp(pixels, { raw: { width, height, channels: 3 } })
      .jpeg()
      .toBuffer(),
  );
}

/** A synthetic dataset, converted and opened. */
export async function synthDataset(dir: string, opts: Parameters<typeof synthesizeCub>[1] = {}): Promise<Dataset> {
  await synthesizeCub(dir, opts);
  await convertCub(dir, { force: true });
  return openDataset(dir);
}

/** Sum of bytes mixed with their positions: a cheap fingerprint of pixel buffers. */
export function fingerprint(bytes: Uint8Array): number {
  let h = 0;
  for (let i = 0; i < bytes.length; i++) h = (Math.imul(h, 31) + bytes[i]!) >>> 0;
  return h;
}
