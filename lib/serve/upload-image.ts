/**
 * An uploaded image -> the model's input: its header checked (an image at all, within the pixel
 * limit) before anything is decoded, then decoded and resized as the task's eval transform does
 * (FGVC: the shorter side to floor(S * 8 / 7), center crop S x S; VTAB: S x S), with the
 * data pipeline's decoder (lib/data/decode-image.ts: JPEGs natively, bit-exact with `predict`,
 * other formats by sharp; off the event loop).
 */

import type { Preprocess } from '../data/datasets/common.js';
import { decodeResizedBuffer } from '../data/decode-image.js';
import { centerCropOffset, resizeFor } from '../data/vpt-transforms.js';
import { ErrorCode, VptError } from '../errors.js';
import sharp from '../util/uncached-sharp.js';
import { HttpError, SERVE_ERROR } from './http-error.js';

/** sharp's message for bytes of no format it reads. */
const UNKNOWN_FORMAT = /unsupported image format/i;

export interface UploadLimits {
  /** The model's image size S: the crop is S x S. */
  cropSize: number;
  /** Largest width x height accepted (a decompression bomb is refused before decoding). */
  maxPixels: number;
  /**
   * The task's eval view: 'fgvc' (default) resizes the shorter side to floor(S * 8 / 7) and
   * center-crops S x S; 'vtab' resizes to S x S (bicubic, no crop), as `eval` and `predict` do.
   */
  preprocess?: Preprocess;
}

/**
 * (S, S, 3) RGB pixels of an uploaded image.
 * @throws HttpError not_an_image, image_too_many_pixels, corrupt_image
 */
export async function decodeUpload(bytes: Buffer, limits: UploadLimits): Promise<Uint8Array> {
  if (bytes.length === 0) throw new HttpError(SERVE_ERROR.badRequest, 'the request has no image (empty body)');
  let width: number | undefined;
  let height: number | undefined;
  try {
    // Reads the header only; no pixel limit here, so that a bomb is named for what it is.
    ({ width, height } = await sharp(bytes, { limitInputPixels: false }).metadata());
  } catch (error) {
    // libvips tells a format it does not know from a known one whose header is broken.
    if (UNKNOWN_FORMAT.test(firstLine(error))) {
      throw new HttpError(
        SERVE_ERROR.notAnImage,
        `the body is not an image this server reads (JPEG, PNG, WebP, GIF, TIFF, AVIF): ${firstLine(error)}`,
      );
    }
    throw new HttpError(SERVE_ERROR.corruptImage, `the image header is corrupt: ${firstLine(error)}`);
  }
  if (!width || !height) throw new HttpError(SERVE_ERROR.notAnImage, 'the image has no dimensions');
  if (width * height > limits.maxPixels) {
    throw new HttpError(
      SERVE_ERROR.tooManyPixels,
      `the image is ${width}x${height} = ${width * height} pixels; this server decodes at most ${limits.maxPixels}`,
    );
  }
  const S = limits.cropSize;
  const fill = limits.preprocess === 'vtab';
  let decoded: Awaited<ReturnType<typeof decodeResizedBuffer>>;
  try {
    decoded = fill
      ? await decodeResizedBuffer(bytes, 'upload', S, { maxPixels: limits.maxPixels, fit: 'fill' })
      : await decodeResizedBuffer(bytes, 'upload', resizeFor(S), { maxPixels: limits.maxPixels });
  } catch (error) {
    // The decoder holds the resized size to the limit too (an extreme aspect ratio).
    if (error instanceof VptError && error.code === ErrorCode.ImageTooLarge) {
      throw new HttpError(SERVE_ERROR.tooManyPixels, firstLine(error));
    }
    throw new HttpError(SERVE_ERROR.corruptImage, firstLine(error));
  }
  return fill ? decoded.data : centerCrop(decoded.data, decoded.width, decoded.height, S);
}

/** The S x S center crop of a (height, width, 3) image, as torchvision's CenterCrop. */
function centerCrop(data: Uint8Array, width: number, height: number, S: number): Uint8Array {
  const top = centerCropOffset(height, S);
  const left = centerCropOffset(width, S);
  const out = new Uint8Array(S * S * 3);
  for (let y = 0; y < S; y++) {
    const from = ((top + y) * width + left) * 3;
    out.set(data.subarray(from, from + S * 3), y * S * 3);
  }
  return out;
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!;
}
