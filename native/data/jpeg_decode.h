// jpeg_decode.h — an image file -> upright RGB uint8 pixels with the shorter side resized as
// torchvision's Resize(shorter) does (or resized to a square, as Resize((s, s), BICUBIC) does), with libjpeg-turbo, in
// one call so that a loader's image costs one trip to the thread pool: read the file, decode as Pillow does (ISLOW
// IDCT, fancy upsampling, grayscale replicated to RGB), apply the EXIF orientation, resize with Pillow's bilinear (or
// bicubic) filter (image_resample.h). Embedded ICC profiles are ignored, as Pillow and torchvision do.
//
// Only built when CMake finds libjpeg (VPT_HAVE_LIBJPEG); without it the TypeScript side
// decodes with sharp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/errors.h"

namespace vpt {

// The most pixels an image may have, stored or resized, unless the caller says otherwise:
// Pillow's decompression-bomb limit (2 * PIL.Image.MAX_IMAGE_PIXELS; PIL refuses larger images,
// so torchvision on PIL never trains on one). About 0.5 GiB of RGB.
inline constexpr uint64_t kDefaultMaxImagePixels = 178956970;

// Progressive scans a JPEG may have: each one rereads the whole coefficient buffer, so a small
// file with thousands of scans costs minutes of CPU (libjpeg-turbo's advice, djpeg -maxscans).
// Real encoders write about 10.
inline constexpr int kMaxJpegScans = 500;

struct JpegDecodeResult {
  // True: `pixels` holds (height, width, 3) RGB. False: the file is not a JPEG this decoder
  // takes (another format, CMYK / YCCK, 12-bit, lossless, a malformed header);
  // `file` holds its bytes for another decoder, and `declined` says why.
  bool decoded = false;
  std::vector<uint8_t> pixels;
  int width = 0;
  int height = 0;
  std::vector<uint8_t> file;
  std::string declined;
};

// How decode_jpeg_file resizes the upright image.
enum class JpegResize {
  // torchvision's Resize(shorter) with PIL's bilinear filter: the shorter side becomes
  // `shorter`, the longer floor(shorter * long / short) (VPT's FGVC transforms).
  kShorterSide,
  // torchvision's Resize((shorter, shorter), BICUBIC): exactly shorter x shorter, aspect not
  // kept, with PIL's bicubic filter (VTAB-1k's preprocessing).
  kFill,
};

// Reads and decodes `path`, resizing the upright image as `mode` says. An image whose header
// claims more than `max_pixels` pixels, or whose resized size would have more, is refused before
// anything of its size is allocated.
// @throws Error(kErrData) whose message is the reason: "file not found", "a folder, not a
//         file", "empty file (0 bytes)", another read error, or "cannot decode (<libjpeg's
//         message>)" for a truncated file ("Premature end of JPEG file") or data libjpeg
//         cannot decode. libjpeg's other warnings (corrupt data it recovers from, such as
//         stray bytes before a marker) are not errors, as in Pillow (and sharp's
//         failOn: 'error' in lib/data/decode-image.ts); more than kMaxJpegScans scans
// @throws Error(kErrImageTooLarge) naming both sizes and the limit
JpegDecodeResult decode_jpeg_file(const std::string& path, int shorter, JpegResize mode = JpegResize::kShorterSide,
                                  uint64_t max_pixels = kDefaultMaxImagePixels);

// decode_jpeg_file on bytes already in memory (`file` is kept in the result when declined).
// @throws Error(kErrData) "cannot decode (...)"; Error(kErrImageTooLarge)
JpegDecodeResult decode_jpeg_bytes(std::vector<uint8_t> file, int shorter, JpegResize mode = JpegResize::kShorterSide,
                                   uint64_t max_pixels = kDefaultMaxImagePixels);

}  // namespace vpt
