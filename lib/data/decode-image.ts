/**
 * `decodeResized`: one image file -> sRGB RGB uint8 pixels, EXIF orientation applied, shorter
 * side resized as torchvision's `Resize(int)` with PIL's bilinear filter does it, or (fit
 * 'fill', VTAB-1k) resized to exactly size x size as `Resize((size, size), BICUBIC)` does it.
 *
 * JPEGs (8-bit grayscale, YCbCr, RGB; baseline or progressive) are read, decoded, oriented and
 * resized by the addon in one job on the libuv thread pool, with libjpeg-turbo and Pillow's
 * own resampling arithmetic (native/data/jpeg_decode.cc, native/data/image_resample.cc): the same pixels
 * as torchvision on PIL, bit for bit, in less than half sharp's CPU time at photo sizes
 * (bench/RESULTS-loader.md). Embedded ICC profiles are ignored there, as PIL does.
 *
 * Everything else goes to sharp (libvips): PNG, WebP and the rest libvips reads, CMYK / YCCK,
 * 12-bit and lossless JPEGs, and every image when the addon was built without libjpeg.
 * Grayscale and CMYK become sRGB, an alpha channel is dropped (as PIL's `convert('RGB')`).
 * Downscaling uses libvips' linear reducer, which matches PIL's antialiased bilinear to within
 * a few levels. libvips' own upsampling samples at other pixel centres than PIL, so enlarging
 * is an affine bilinear map with PIL's centre convention, src = (dst + 0.5) / scale - 0.5, over
 * an edge-replicated border (PIL clamps its filter window at the edges).
 *
 * Bad data is judged as PIL judges it, on either path: a truncated file or one libjpeg cannot
 * decode is an error naming it (never a picture padded with grey), while corrupt data libjpeg
 * recovers from (stray bytes before a marker) decodes, as PIL decodes it.
 *
 * Either way each decode runs on the libuv thread pool, so its size (UV_THREADPOOL_SIZE,
 * default 4, read when the process starts) bounds how many images decode at once.
 */
import { readFile } from 'node:fs/promises';

import type { OutputInfo } from 'sharp';
import { loadAddon, type NativeAddon, type NativeJpegResult } from '../binding.js';
import { callNative, ErrorCode, invalidOption, VptError } from '../errors.js';
import sharp from '../util/uncached-sharp.js';
import { resizedSize } from './vpt-transforms.js';

/** Decoded pixels: (height, width, 3) RGB, row-major. */
export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Which decoder `decodeResized` uses: 'auto' (the default) decodes JPEGs natively when it can
 * and everything else with sharp; 'native' fails with VPT_OPTION for an image the native
 * decoder cannot take; 'sharp' always uses sharp.
 */
export type ImageDecoder = 'auto' | 'native' | 'sharp';

export interface DecodeOptions {
  /** Default: the environment variable VPT_IMAGE_DECODER, else 'auto'. */
  decoder?: ImageDecoder;
  /**
   * 'shorter' (default): the shorter side becomes `size`, PIL's bilinear filter (torchvision's
   * Resize(size), VPT's FGVC transforms). 'fill': exactly size x size, aspect not kept, PIL's
   * bicubic filter (torchvision's Resize((size, size), BICUBIC), VTAB-1k's preprocessing).
   */
  fit?: 'shorter' | 'fill';
  /**
   * The most pixels an image may have, as stored or once resized; a larger one is refused with
   * VPT_TOOLARGE from its header, before any pixel is decoded or allocated (a few hundred bytes of
   * JPEG can claim 65500 x 65500 pixels). Default: the environment variable VPT_MAX_IMAGE_PIXELS,
   * else DEFAULT_MAX_IMAGE_PIXELS.
   */
  maxPixels?: number;
}

/**
 * Pillow's decompression-bomb limit (2 * PIL.Image.MAX_IMAGE_PIXELS: PIL refuses larger images,
 * so torchvision on PIL never sees one); about 0.5 GiB of RGB. The native decoder's default too
 * (kDefaultMaxImagePixels in native/data/jpeg_decode.h).
 */
export const DEFAULT_MAX_IMAGE_PIXELS = 178_956_970;
const MAX_PIXELS_ENV = 'VPT_MAX_IMAGE_PIXELS';

const DECODERS: readonly ImageDecoder[] = ['auto', 'native', 'sharp'];
const DECODER_ENV = 'VPT_IMAGE_DECODER';

/**
 * sharp stops on truncated input and on decode errors but not on libjpeg's recoverable
 * warnings: what PIL and the native decoder (native/data/jpeg_decode.cc) do. ('warning' would refuse
 * files PIL decodes.) libvips reads nothing after the last row, so it does not see a bad
 * marker there, which PIL and the native decoder report.
 */
const SHARP_FAIL_ON = 'error';

/** Edge pixels replicated around an image before enlarging it. */
const UPSCALE_BORDER = 2;

function bad(path: string, reason: string, cause?: unknown): VptError {
  return new VptError(ErrorCode.Data, `bad image ${path}: ${reason}`, { cause });
}

/** The file's bytes (libvips decodes from memory faster than from a path). */
async function readSource(path: string): Promise<Buffer> {
  try {
    const bytes = await readFile(path);
    if (bytes.length === 0) throw bad(path, 'empty file (0 bytes)');
    return bytes;
  } catch (error) {
    if (error instanceof VptError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw bad(
      path,
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'a folder, not a file' : (error as Error).message,
      error,
    );
  }
}

/**
 * Decodes `path` and resizes its shorter side to `shorter`.
 * @throws VptError (VPT_DATA) naming the file: missing, empty, truncated or not an image
 * @example
 * ```ts
 * const { data, width, height } = await decodeResized('images/001.x/a.jpg', 256);
 * ```
 */
export async function decodeResized(path: string, shorter: number, options: DecodeOptions = {}): Promise<DecodedImage> {
  return decodeFrom({ path }, path, shorter, options);
}

/**
 * `decodeResized` for an image already in memory (an upload), with the same decoders: a JPEG the
 * addon takes is decoded natively (the same pixels as `decodeResized` of the same file, so as
 * `predict` and `eval`), anything else by sharp, off the event loop either way; `name` names it
 * in errors.
 * @throws VptError (VPT_DATA) naming `name`: empty, truncated or not an image; (VPT_TOOLARGE) over
 *   `maxPixels` (stored or resized), checked from the header
 * @example
 * ```ts
 * const { data, width, height } = await decodeResizedBuffer(body, 'upload', 256);
 * ```
 */
export async function decodeResizedBuffer(
  bytes: Buffer,
  name: string,
  shorter: number,
  options: DecodeOptions = {},
): Promise<DecodedImage> {
  if (bytes.length === 0) throw bad(name, 'empty (0 bytes)');
  return decodeFrom({ bytes }, name, shorter, options);
}

/** Both entry points: the native JPEG decoder where it can, sharp otherwise. */
async function decodeFrom(
  source: { path: string } | { bytes: Buffer },
  name: string,
  shorter: number,
  options: DecodeOptions,
): Promise<DecodedImage> {
  const decoder = chooseDecoder(options.decoder);
  const fill = chooseFit(options.fit) === 'fill';
  const maxPixels = chooseMaxPixels(options.maxPixels);
  const withSharp = (bytes: Buffer) =>
    fill ? fillWithSharp(name, bytes, shorter, maxPixels) : decodeWithSharp(name, bytes, shorter, maxPixels);
  const sourceBytes = async () => ('bytes' in source ? source.bytes : readSource(source.path));
  if (decoder === 'sharp') return withSharp(await sourceBytes());
  const decodeJpegFile = nativeJpegDecoder();
  if (!decodeJpegFile) {
    if (decoder === 'native')
      throw cannotNative(name, 'this build of the addon has no JPEG decoder (libjpeg was not found when it was built)');
    return withSharp(await sourceBytes());
  }
  let result: NativeJpegResult;
  try {
    result = await callNative(() => decodeJpegFile({ ...source, shorter, ...(fill ? { fill } : {}), maxPixels }));
  } catch (error) {
    if (error instanceof VptError && error.code === ErrorCode.Data) throw bad(name, error.message, error);
    if (error instanceof VptError && error.code === ErrorCode.ImageTooLarge) throw tooLarge(name, error.message, error);
    throw error;
  }
  if ('pixels' in result) {
    if (fill && (result.width !== shorter || result.height !== shorter)) {
      // An addon built before `fill` existed ignores it.
      throw new VptError(
        ErrorCode.Native,
        `the addon decoded ${name} to ${result.width}x${result.height}, not ${shorter}x${shorter}: it predates fit 'fill'; rebuild it (npm run build)`,
      );
    }
    return { data: result.pixels, width: result.width, height: result.height };
  }
  if (decoder === 'native') throw cannotNative(name, result.declined);
  return withSharp(Buffer.from(result.file.buffer, result.file.byteOffset, result.file.byteLength));
}

function tooLarge(path: string, reason: string, cause?: unknown): VptError {
  return new VptError(ErrorCode.ImageTooLarge, `image too large ${path}: ${reason}`, { cause });
}

function chooseMaxPixels(given: number | undefined): number {
  const valid = (n: number) => Number.isSafeInteger(n) && n >= 1;
  if (given !== undefined) {
    if (!valid(given)) throw invalidOption('maxPixels', 'a positive integer', given);
    return given;
  }
  const env = process.env[MAX_PIXELS_ENV];
  if (!env) return DEFAULT_MAX_IMAGE_PIXELS;
  const n = /^\d+$/.test(env.trim()) ? Number(env.trim()) : Number.NaN;
  if (!valid(n)) throw invalidOption(MAX_PIXELS_ENV, 'a positive integer', env);
  return n;
}

/** Refuses a `width` x `height` image (stored, or `what` says which) over `maxPixels`. */
function checkPixels(path: string, what: string, width: number, height: number, maxPixels: number): void {
  if (width * height > maxPixels) {
    throw tooLarge(
      path,
      `${what} ${width}x${height} (${width * height} pixels) is over the limit of ${maxPixels} pixels`,
    );
  }
}

function chooseFit(given: DecodeOptions['fit']): 'shorter' | 'fill' {
  if (given === undefined || given === 'shorter' || given === 'fill') return given ?? 'shorter';
  throw invalidOption('fit', "'shorter' or 'fill'", given);
}

function cannotNative(path: string, why: string): VptError {
  return new VptError(ErrorCode.Option, `Invalid option "decoder": 'native' cannot decode ${path}: ${why}`);
}

function chooseDecoder(given: ImageDecoder | undefined): ImageDecoder {
  if (given !== undefined) {
    if (!DECODERS.includes(given)) throw invalidOption('decoder', `one of ${DECODERS.join(', ')}`, given);
    return given;
  }
  const env = process.env[DECODER_ENV];
  if (!env) return 'auto';
  if (!DECODERS.includes(env as ImageDecoder)) throw invalidOption(DECODER_ENV, `one of ${DECODERS.join(', ')}`, env);
  return env as ImageDecoder;
}

type NativeDecode = NonNullable<NativeAddon['decodeJpegFile']>;
let nativeJpeg: NativeDecode | null | undefined;

/**
 * The addon's JPEG decoder; null when the addon was built without libjpeg or does not load
 * (then sharp decodes, and the model, which needs the addon, reports why it does not load).
 */
function nativeJpegDecoder(): NativeDecode | null {
  if (nativeJpeg === undefined) {
    try {
      const { addon } = loadAddon();
      nativeJpeg = addon.decodeJpegFile ? addon.decodeJpegFile.bind(addon) : null;
    } catch {
      nativeJpeg = null;
    }
  }
  return nativeJpeg;
}

async function decodeWithSharp(path: string, bytes: Buffer, shorter: number, maxPixels: number): Promise<DecodedImage> {
  try {
    const oriented = await headerSize(path, bytes, maxPixels);
    const target = resizedSize(oriented.width, oriented.height, shorter);
    checkPixels(path, `resized to ${shorter}, the image would be`, target.width, target.height, maxPixels);
    const upscale = target.width > oriented.width;
    const decoder = sharp(bytes, { failOn: SHARP_FAIL_ON, sequentialRead: true, limitInputPixels: maxPixels })
      .autoOrient()
      .toColourspace('srgb')
      .removeAlpha();
    let image: DecodedImage;
    if (upscale) {
      const padded = await decoder
        .extend({
          top: UPSCALE_BORDER,
          bottom: UPSCALE_BORDER,
          left: UPSCALE_BORDER,
          right: UPSCALE_BORDER,
          extendWith: 'copy',
        })
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      image = await enlarge(padded.data, padded.info, oriented.width, oriented.height, target);
    } else {
      const resized =
        target.width === oriented.width ? decoder : decoder.resize({ ...target, fit: 'fill', kernel: 'linear' });
      const { data, info } = await resized.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      image = {
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
        width: info.width,
        height: info.height,
      };
    }
    if (
      image.width !== target.width ||
      image.height !== target.height ||
      image.data.length !== target.width * target.height * 3
    ) {
      throw new Error(`decoded to ${image.width}x${image.height}, expected ${target.width}x${target.height} RGB`);
    }
    return image;
  } catch (error) {
    if (error instanceof VptError) throw error;
    throw bad(path, `cannot decode (${(error as Error).message.split('\n')[0]})`, error);
  }
}

/**
 * The upright size sharp reads from the header (no pixel decoded), refused with VPT_TOOLARGE
 * over `maxPixels`; decoding then runs with sharp's limitInputPixels at `maxPixels` too.
 */
async function headerSize(path: string, bytes: Buffer, maxPixels: number): Promise<{ width: number; height: number }> {
  const meta = await sharp(bytes, { failOn: SHARP_FAIL_ON, limitInputPixels: false }).metadata();
  const oriented = meta.autoOrient ?? meta;
  if (!oriented.width || !oriented.height) throw new Error('no image dimensions');
  checkPixels(path, 'the image is', oriented.width, oriented.height, maxPixels);
  return { width: oriented.width, height: oriented.height };
}

/**
 * Bilinear (or bicubic) enlargement with PIL's pixel centres. `padded` is the (h + 2B) x (w + 2B) RGB image
 * with a replicated border of B = UPSCALE_BORDER; libvips' affine maps input x to output
 * scale * x + odx, so odx places source pixel (dst + 0.5) / scale - 0.5 at dst.
 */
async function enlarge(
  padded: Buffer,
  info: OutputInfo,
  width: number,
  height: number,
  target: { width: number; height: number },
  interpolator: 'bilinear' | 'bicubic' = 'bilinear',
): Promise<DecodedImage> {
  const sx = target.width / width;
  const sy = target.height / height;
  const { data, info: out } = await sharp(padded, { raw: { width: info.width, height: info.height, channels: 3 } })
    .affine(
      [
        [sx, 0],
        [0, sy],
      ],
      {
        interpolator,
        odx: -sx * UPSCALE_BORDER + 0.5 * (sx - 1),
        ody: -sy * UPSCALE_BORDER + 0.5 * (sy - 1),
      },
    )
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (out.channels !== 3 || out.width < target.width || out.height < target.height) {
    throw new Error(`enlarging gave ${out.width}x${out.height}x${out.channels}`);
  }
  const pixels = new Uint8Array(target.width * target.height * 3);
  const row = target.width * 3;
  for (let y = 0; y < target.height; y++)
    pixels.set(data.subarray(y * out.width * 3, y * out.width * 3 + row), y * row);
  return { data: pixels, width: target.width, height: target.height };
}

/**
 * VTAB-1k's resize with sharp: exactly size x size, PIL's bicubic filter. Sides that shrink go
 * through libvips' cubic (Catmull-Rom, a = -0.5, as PIL's BICUBIC) reducer, which widens its
 * kernel by the scale as PIL does; sides that grow through the bicubic affine with PIL's pixel
 * centres over an edge-replicated border (enlarge()). PIL resizes the horizontal side first, this
 * the shrinking sides first; test/data/vtab-preprocess.test.ts states the measured difference.
 */
async function fillWithSharp(path: string, bytes: Buffer, size: number, maxPixels: number): Promise<DecodedImage> {
  try {
    const oriented = await headerSize(path, bytes, maxPixels);
    checkPixels(path, `resized to ${size}, the image would be`, size, size, maxPixels);
    const shrunk = { width: Math.min(size, oriented.width), height: Math.min(size, oriented.height) };
    let pipeline = sharp(bytes, { failOn: SHARP_FAIL_ON, sequentialRead: true, limitInputPixels: maxPixels })
      .autoOrient()
      .toColourspace('srgb')
      .removeAlpha();
    if (shrunk.width !== oriented.width || shrunk.height !== oriented.height)
      pipeline = pipeline.resize({ ...shrunk, fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false });
    let image: DecodedImage;
    if (shrunk.width === size && shrunk.height === size) {
      const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      image = {
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
        width: info.width,
        height: info.height,
      };
    } else {
      const padded = await pipeline
        .extend({
          top: UPSCALE_BORDER,
          bottom: UPSCALE_BORDER,
          left: UPSCALE_BORDER,
          right: UPSCALE_BORDER,
          extendWith: 'copy',
        })
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      image = await enlarge(
        padded.data,
        padded.info,
        shrunk.width,
        shrunk.height,
        { width: size, height: size },
        'bicubic',
      );
    }
    if (image.width !== size || image.height !== size || image.data.length !== size * size * 3)
      throw new Error(`decoded to ${image.width}x${image.height}, expected ${size}x${size} RGB`);
    return image;
  } catch (error) {
    if (error instanceof VptError) throw error;
    throw bad(path, `cannot decode (${(error as Error).message.split('\n')[0]})`, error);
  }
}
