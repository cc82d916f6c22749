/**
 * `synthesizeCub`: a small dataset in CUB-200-2011's raw layout, with classes a small ViT can
 * learn at 32-64 px, for the demo and the tests. It goes through `convertCub` like real CUB.
 *
 *   <dir>/images/NNN.<Hue>_<Shape>/<Hue>_<Shape>_NNNN.jpg
 *   <dir>/images.txt, train_test_split.txt, image_class_labels.txt, classes.txt
 *   <dir>/synth.json   the options it was made with (marks the folder as synthetic)
 *
 * Class c is a shape (disc, square, triangle, ring, cross) in a contrasting colour on a
 * background of one of ten hues; (hue, shape) pairs are distinct for up to 50 classes, and the
 * first ten classes differ in both. Each image varies the shape's size, position and rotation,
 * the colours slightly, and adds pixel noise, all from the seed.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ErrorCode, VptError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import sharp from '../util/uncached-sharp.js';
import { parseOptions } from '../util/validate.js';
import { SeededRandom } from './seeded-random.js';

export interface SynthOptions {
  /** Number of classes, 2..50 (default 10). */
  classes?: number;
  /** Images per class (default 30). */
  imagesPerClass?: number;
  /** Side of the square images in pixels (default 64). */
  imageSize?: number;
  seed?: number;
  /** Share of each class marked is_training=1 (default 0.8; at least one image each way). */
  trainFraction?: number;
  /**
   * Pixel noise: each channel of each pixel moves by a uniform amount in +-noise/2 levels
   * (default 24, 0..255). More noise hides the shape's outline and makes the task harder.
   */
  noise?: number;
  /**
   * Spread of each image's background hue around its class's (default 0.03 of the colour wheel,
   * uniform in +-hueJitter/2). The ten hues are 0.1 apart, so from 0.1 up neighbouring hues
   * overlap and classes must be told apart by their shape.
   */
  hueJitter?: number;
  /** Write into a folder that holds a dataset synth did not make. */
  force?: boolean;
}

const optionsSchema = z.strictObject({
  classes: z.number().int().min(2).max(50).default(10),
  imagesPerClass: z.number().int().min(2).max(100_000).default(30),
  imageSize: z.number().int().min(16).max(2048).default(64),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  trainFraction: z.number().gt(0).lt(1).default(0.8),
  noise: z.number().min(0).max(255).default(24),
  hueJitter: z.number().min(0).max(1).default(0.03),
  force: z.boolean().default(false),
});

const HUES = ['Red', 'Orange', 'Yellow', 'Lime', 'Green', 'Teal', 'Azure', 'Blue', 'Violet', 'Magenta'] as const;
const SHAPES = ['Disc', 'Square', 'Triangle', 'Ring', 'Cross'] as const;
type Shape = (typeof SHAPES)[number];
/** Images encoded and written at once. */
const WRITE_BATCH = 16;
const MARKER = 'synth.json';
const JPEG_QUALITY = 90;

/** HSV (all in [0, 1]) to RGB bytes. */
function hsv(h: number, s: number, v: number): [number, number, number] {
  const f = (n: number) => {
    const k = (n + h * 6) % 6;
    return Math.round(255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [f(5), f(3), f(1)];
}

/** Whether point (u, v), in the shape's rotated frame scaled to its radius, is inside it. */
function inside(shape: Shape, u: number, v: number): boolean {
  switch (shape) {
    case 'Disc':
      return u * u + v * v <= 1;
    case 'Square':
      return Math.abs(u) <= 0.8 && Math.abs(v) <= 0.8;
    case 'Triangle':
      return v <= 0.75 && v >= -1 + 2 * Math.abs(u) * 1.15;
    case 'Ring': {
      const r2 = u * u + v * v;
      return r2 <= 1 && r2 >= 0.4;
    }
    case 'Cross':
      return (Math.abs(u) <= 0.3 && Math.abs(v) <= 1) || (Math.abs(v) <= 0.3 && Math.abs(u) <= 1);
  }
}

/** The look of class `c`: its background hue (index into HUES) and shape. */
function classStyle(c: number): { hue: number; shape: Shape; name: string } {
  const hue = c % HUES.length;
  const shape = SHAPES[(c + Math.floor(c / HUES.length)) % SHAPES.length]!;
  return { hue, shape, name: `${HUES[hue]}_${shape}` };
}

/** One image of class `c`: (size, size, 3) RGB. */
function renderImage(
  c: number,
  size: number,
  rng: SeededRandom,
  look: { noise: number; hueJitter: number },
): Uint8Array {
  const style = classStyle(c);
  const hue = style.hue / HUES.length + (rng.next() - 0.5) * look.hueJitter;
  const background = hsv((hue + 1) % 1, 0.6 + rng.next() * 0.2, 0.75 + rng.next() * 0.2);
  const foreground = hsv((hue + 0.5) % 1, 0.3, rng.next() < 0.5 ? 0.98 : 0.15);
  const radius = size * (0.24 + rng.next() * 0.1);
  const cx = size * (0.5 + (rng.next() - 0.5) * 0.2);
  const cy = size * (0.5 + (rng.next() - 0.5) * 0.2);
  const angle = rng.next() * 2 * Math.PI;
  const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
  const pixels = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = (x + 0.5 - cx) / radius,
        dy = (y + 0.5 - cy) / radius;
      const colour = inside(style.shape, cos * dx + sin * dy, -sin * dx + cos * dy) ? foreground : background;
      for (let k = 0; k < 3; k++) {
        pixels[(y * size + x) * 3 + k] = Math.max(
          0,
          Math.min(255, colour[k]! + Math.round((rng.next() - 0.5) * look.noise)),
        );
      }
    }
  }
  return pixels;
}

/** Refuses a folder holding a dataset synth did not make (unless forced); clears one it did. */
async function prepareFolder(root: string, force: boolean): Promise<void> {
  const marker = await readFile(join(root, MARKER), 'utf8').then(
    () => true,
    () => false,
  );
  const hasDataset = await stat(join(root, 'images.txt')).then(
    () => true,
    () => false,
  );
  if (hasDataset && !marker && !force) {
    throw new VptError(
      ErrorCode.Io,
      `${root} already holds a dataset that synth did not make; choose an empty folder or pass --force (force: true)`,
    );
  }
  if (marker) await rm(join(root, 'images'), { recursive: true, force: true });
  await mkdir(join(root, 'images'), { recursive: true });
}

/**
 * Writes a synthetic dataset in CUB's raw layout (run `convertCub` on it next).
 * @returns the folder, its class count and image count
 * @example
 * ```ts
 * const { root } = await synthesizeCub('demo/data', { classes: 10, imagesPerClass: 30 });
 * await convertCub(root);
 * ```
 */
export async function synthesizeCub(
  dir: string,
  opts: SynthOptions = {},
): Promise<{ root: string; classes: number; images: number }> {
  const o = parseOptions(optionsSchema, opts, 'synthesizeCub');
  const root = resolve(dir);
  await prepareFolder(root, o.force);

  const nTrain = Math.min(o.imagesPerClass - 1, Math.max(1, Math.round(o.imagesPerClass * o.trainFraction)));
  const imageLines: string[] = [],
    splitLines: string[] = [],
    labelLines: string[] = [],
    classLines: string[] = [];
  const jobs: Array<{ path: string; c: number; j: number }> = [];
  for (let c = 0; c < o.classes; c++) {
    const { name } = classStyle(c);
    const folder = `${String(c + 1).padStart(3, '0')}.${name}`;
    classLines.push(`${c + 1} ${folder}`);
    await mkdir(join(root, 'images', folder), { recursive: true });
    for (let j = 0; j < o.imagesPerClass; j++) {
      const id = c * o.imagesPerClass + j + 1;
      const path = `${folder}/${name}_${String(j + 1).padStart(4, '0')}.jpg`;
      imageLines.push(`${id} ${path}`);
      splitLines.push(`${id} ${j < nTrain ? 1 : 0}`);
      labelLines.push(`${id} ${c + 1}`);
      jobs.push({ path, c, j });
    }
  }

  for (let i = 0; i < jobs.length; i += WRITE_BATCH) {
    await Promise.all(
      jobs.slice(i, i + WRITE_BATCH).map(async ({ path, c, j }) => {
        const pixels = renderImage(c, o.imageSize, new SeededRandom(o.seed, c, j), o);
        const jpeg = await sharp(pixels, { raw: { width: o.imageSize, height: o.imageSize, channels: 3 } })
          .jpeg({ quality: JPEG_QUALITY })
          .toBuffer();
        await writeFileAtomic(join(root, 'images', path), [jpeg]);
      }),
    );
  }

  const text = (lines: string[]) => [new TextEncoder().encode(`${lines.join('\n')}\n`)];
  await writeFileAtomic(join(root, 'images.txt'), text(imageLines));
  await writeFileAtomic(join(root, 'train_test_split.txt'), text(splitLines));
  await writeFileAtomic(join(root, 'image_class_labels.txt'), text(labelLines));
  await writeFileAtomic(join(root, 'classes.txt'), text(classLines));
  const made = {
    format: 'vpt-native-synth',
    version: 1,
    classes: o.classes,
    imagesPerClass: o.imagesPerClass,
    imageSize: o.imageSize,
    seed: o.seed,
    trainFraction: o.trainFraction,
    // Recorded only when set away from the defaults, so a default dataset's synth.json is unchanged.
    ...(o.noise !== 24 ? { noise: o.noise } : {}),
    ...(o.hueJitter !== 0.03 ? { hueJitter: o.hueJitter } : {}),
  };
  await writeFileAtomic(join(root, MARKER), text([JSON.stringify(made, null, 2)]));
  return { root, classes: o.classes, images: jobs.length };
}
