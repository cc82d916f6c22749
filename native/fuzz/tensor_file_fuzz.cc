// tensor_file_fuzz.cc — libFuzzer target for the native half of safetensors and .npz loading
// (weights/tensor_file.cc). The headers themselves (safetensors JSON, zip directory, .npy
// dictionary) are parsed in TypeScript (lib/weights/safetensors.ts, lib/weights/npz.ts, fuzzed
// by test/weights/fuzz-*.test.ts); what reaches C++ is a list of (dtype, shape, offset, nbytes)
// entries and the file. This target makes both from the input, so entries may disagree with
// each other and with the file in every way the TypeScript checks could miss.
//
// Input: byte 0 the entry count (0..3); per entry 1 dtype byte (F32, F16, BF16, F64, or an
// unknown name), 1 rank byte (0..4), rank 3-byte dimensions (the top bit of each makes it
// negative or huge), an 8-byte offset and an 8-byte nbytes (little-endian); the rest is the file.
// Anything but a coded Error is a finding, as is an F32 tensor whose values are not the bytes.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/errors.h"
#include "weights/tensor_file.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

struct Reader {
  const uint8_t* data;
  size_t size;
  size_t at = 0;
  bool ok = true;
  uint64_t take(size_t n) {
    if (size - at < n) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(data[at + i]) << (8 * i);
    at += n;
    return v;
  }
};

const char* const kDtypes[] = {"F32", "F16", "BF16", "F64", "I64"};

// The file lives in memory; libstdc++'s ifstream opens it by its /proc path.
int g_fd = -1;
std::string g_path;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (g_fd < 0) {
    g_fd = memfd_create("tensor_file_fuzz", 0);
    check(g_fd >= 0);
    g_path = "/proc/self/fd/" + std::to_string(g_fd);
  }
  Reader in{data, size};
  const int count = static_cast<int>(in.take(1) % 4);
  std::vector<vpt::TensorEntry> entries;
  for (int i = 0; i < count && in.ok; ++i) {
    vpt::TensorEntry e;
    e.name = "t" + std::to_string(i);
    e.dtype = kDtypes[in.take(1) % 5];
    const int rank = static_cast<int>(in.take(1) % 5);
    for (int d = 0; d < rank; ++d) {
      const uint64_t raw = in.take(3);
      // The top bit: a negative dimension, or one near 2^62 (products that overflow).
      e.shape.push_back(raw & 0x800000 ? (raw & 1 ? -static_cast<int64_t>(raw & 0x7FFFFF)
                                                  : static_cast<int64_t>((raw & 0x7FFFFF) << 39))
                                       : static_cast<int64_t>(raw));
    }
    e.offset = in.take(8);
    e.nbytes = in.take(8);
    entries.push_back(std::move(e));
  }
  if (!in.ok) return 0;
  const uint8_t* file = data + in.at;
  const size_t file_size = size - in.at;
  check(ftruncate(g_fd, 0) == 0);
  check(pwrite(g_fd, file, file_size, 0) == static_cast<ssize_t>(file_size));
  try {
    const vpt::TensorMap out = vpt::read_tensor_entries(g_path, entries);
    check(out.size() <= entries.size());
    for (const auto& e : entries) {
      const at::Tensor& t = out.at(e.name);
      check(t.scalar_type() == at::kFloat && t.is_contiguous());
      check(std::vector<int64_t>(t.sizes().begin(), t.sizes().end()) == e.shape);
      check(e.offset + e.nbytes <= file_size);
      if (e.dtype == "F32" && e.nbytes > 0) check(std::memcmp(t.data_ptr(), file + e.offset, e.nbytes) == 0);
    }
  } catch (const vpt::Error& err) {
    check(err.code() == vpt::kErrWeights || err.code() == vpt::kErrIo);
  }
  return 0;
}
