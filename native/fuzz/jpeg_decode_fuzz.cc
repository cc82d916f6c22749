// jpeg_decode_fuzz.cc — libFuzzer target for the JPEG path a loader or server runs on untrusted
// files: libjpeg-turbo's header and scan decoding, the EXIF orientation parser, orientation and
// Pillow-exact resizing (data/jpeg_decode.cc, data/image_resample.cc). Built and run by
// scripts/fuzz.sh under AddressSanitizer + UndefinedBehaviorSanitizer.
//
// Input: byte 0-1 the target size (1..64, little-endian), byte 2 the flags (bit 0: fill as
// VTAB-1k does, bit 1: a pixel limit of 4096 instead of 1 << 16), then the file's bytes. The
// limits keep an execution to a fraction of a millisecond: larger images reach no new code.
// Anything but a coded Error (kErrData, kErrImageTooLarge) or a declined file is a finding, as
// is a decoded result whose size disagrees with its pixels.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "data/jpeg_decode.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const int shorter = 1 + (data[0] | data[1] << 8) % 64;
  const vpt::JpegResize mode = data[2] & 1 ? vpt::JpegResize::kFill : vpt::JpegResize::kShorterSide;
  const uint64_t max_pixels = data[2] & 2 ? 4096 : 1u << 16;
  std::vector<uint8_t> file(data + 3, data + size);
  try {
    const vpt::JpegDecodeResult r = vpt::decode_jpeg_bytes(std::move(file), shorter, mode, max_pixels);
    if (!r.decoded) {
      check(!r.declined.empty() && r.file.size() == size - 3);
      return 0;
    }
    check(r.width >= 1 && r.height >= 1);
    check(static_cast<uint64_t>(r.width) * r.height <= max_pixels);
    check(r.pixels.size() == static_cast<size_t>(r.width) * r.height * 3);
    if (mode == vpt::JpegResize::kFill)
      check(r.width == shorter && r.height == shorter);
    else
      check(std::min(r.width, r.height) == shorter);
  } catch (const vpt::Error& e) {
    check(e.code() == vpt::kErrData || e.code() == vpt::kErrImageTooLarge);
  }
  return 0;
}
