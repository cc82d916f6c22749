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

struct JpegDecodeResult {
  // True: `pixels` holds (height, width, 3) RGB. False: the file is not a JPEG this decoder
  // takes (another format, CMYK / YCCK, 12-bit, lossless, a malformed header, too many pixels);
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

// Reads and decodes `path`, resizing the upright image as `mode` says.
// @throws Error(kErrData) whose message is the reason: "file not found", "a folder, not a
//         file", "empty file (0 bytes)", another read error, or "cannot decode (<libjpeg's
//         message>)" for a truncated file ("Premature end of JPEG file") or data libjpeg
//         cannot decode. libjpeg's other warnings (corrupt data it recovers from, such as
//         stray bytes before a marker) are not errors, as in Pillow (and sharp's
//         failOn: 'error' in lib/data/decode-image.ts)
JpegDecodeResult decode_jpeg_file(const std::string& path, int shorter, JpegResize mode = JpegResize::kShorterSide);

}  // namespace vpt
