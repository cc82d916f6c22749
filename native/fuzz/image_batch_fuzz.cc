// image_batch_fuzz.cc — libFuzzer target for the uint8 image batch a loader hands the native
// side (data/image_batch_u8.cc image_batch_u8_of, data/augment.cc): the shape, the pixel, crop and
// flip array lengths, the crop size and windows all come from the input, as a malformed call
// from JavaScript could send them. A batch that is accepted is then cropped, flipped and
// normalized on the CPU and compared, bit for bit, with a plain loop over the same bytes.
//
// Input: 4 dimensions of 2 bytes each (a top bit set makes the dimension near 2^62, so the
// element count overflows int64), 1 byte extra pixels (signed: more or fewer bytes than the
// shape needs), 1 byte crop count, 1 byte flip count, 1 byte crop size, then crop pairs (2 bytes
// each, signed), flips and pixels, recycled from the rest of the input.
// Anything but a coded Error (kErrArgument, kErrShape) is a finding, as is a wrong value.
#include <ATen/ATen.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "data/image_batch_u8.h"
#include "runtime/errors.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

struct Reader {
  const uint8_t* data;
  size_t size;
  size_t at = 0;
  uint64_t take(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i, ++at) v |= static_cast<uint64_t>(at < size ? data[at] : 0) << (8 * i);
    return v;
  }
  // The rest of the input, repeated to `n` bytes (zeros when there is none).
  std::vector<uint8_t> fill(size_t n) {
    std::vector<uint8_t> out(n);
    const size_t rest = at < size ? size - at : 0;
    for (size_t i = 0; i < n; ++i) out[i] = rest ? data[at + i % rest] : 0;
    return out;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in{data, size};
  vpt::HostImageBatch host;
  int64_t needed = 1;
  bool overflow = false;
  for (int d = 0; d < 4; ++d) {
    const uint64_t raw = in.take(2);
    const int64_t dim = raw & 0x8000 ? static_cast<int64_t>(raw & 0x7FFF) << 48 : static_cast<int64_t>(raw % 40);
    host.shape.push_back(dim);
    overflow = overflow || __builtin_mul_overflow(needed, dim, &needed);
  }
  const int extra = static_cast<int8_t>(in.take(1));
  const size_t crop_count = in.take(1) % 16, flip_count = in.take(1) % 8;
  host.crop_size = static_cast<int8_t>(in.take(1));
  // Pixel arrays stay small: a shape that needs more than 64 KiB gets a short array.
  const int64_t want = overflow || needed > 65536 ? in.take(1) : std::max<int64_t>(0, needed + extra);
  std::vector<int32_t> crops(crop_count);
  for (auto& c : crops) c = static_cast<int16_t>(in.take(2));
  std::vector<uint8_t> flips = in.fill(flip_count);
  for (auto& f : flips) f &= 1;
  std::vector<uint8_t> pixels = in.fill(static_cast<size_t>(want));
  host.pixels = pixels.data();
  host.pixel_count = pixels.size();
  host.crops = crops.data();
  host.crop_count = crops.size();
  host.flips = flips.data();
  host.flip_count = flips.size();
  host.norm = {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
  try {
    const vpt::ImageBatchU8 batch = vpt::image_batch_u8_of(host);
    const at::Tensor x = batch.on(at::kCPU);
    const int64_t B = host.shape[0], H = host.shape[1], W = host.shape[2], S = host.crop_size;
    check(!overflow && static_cast<int64_t>(pixels.size()) == needed && host.shape[3] == 3);
    check(x.sizes() == c10::IntArrayRef({B, 3, S, S}) && x.scalar_type() == at::kFloat);
    const float* out = x.data_ptr<float>();
    for (int64_t b = 0; b < B; ++b) {
      const int64_t top = crops[2 * b], left = crops[2 * b + 1];
      check(top >= 0 && left >= 0 && top + S <= H && left + S <= W);
      for (int64_t c = 0; c < 3; ++c) {
        for (int64_t i = 0; i < S; ++i) {
          for (int64_t j = 0; j < S; ++j) {
            const int64_t col = left + (flips[b] ? S - 1 - j : j);
            const float v = static_cast<float>(pixels[((b * H + top + i) * W + col) * 3 + c]);
            const float want_v = (v / 255.0f - host.norm.mean[c]) / host.norm.std[c];
            const float got = out[((b * 3 + c) * S + i) * S + j];
            check(std::memcmp(&want_v, &got, sizeof(float)) == 0);
          }
        }
      }
    }
  } catch (const vpt::Error& e) {
    check(e.code() == vpt::kErrArgument || e.code() == vpt::kErrShape);
  }
  return 0;
}
