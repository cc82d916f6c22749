// tensor_file.cc — see tensor_file.h.
#include "weights/tensor_file.h"

#include <algorithm>
#include <fstream>
#include <numeric>

#include "runtime/errors.h"

namespace vpt {

namespace {

at::ScalarType scalar_type_of(const std::string& dtype) {
  if (dtype == "F32") return at::kFloat;
  if (dtype == "F16") return at::kHalf;
  if (dtype == "BF16") return at::kBFloat16;
  if (dtype == "F64") return at::kDouble;
  throw Error(kErrWeights, "unsupported tensor dtype " + dtype);
}

}  // namespace

size_t dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "F64") return 8;
  return 0;
}

TensorMap read_tensor_entries(const std::string& path, const std::vector<TensorEntry>& entries) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(kErrIo, "cannot open " + path);
  const std::streamoff end = in.tellg();
  const uint64_t file_size = end > 0 ? static_cast<uint64_t>(end) : 0;
  TensorMap out;
  for (const auto& e : entries) {
    const size_t elem = dtype_size(e.dtype);
    if (elem == 0) throw Error(kErrWeights, path + ": tensor '" + e.name + "' has unsupported dtype " + e.dtype);
    // The product of the non-zero dimensions too: a tensor with a 0 among huge dimensions has no
    // elements, but its strides would overflow (LibTorch throws "Stride calculation overflowed").
    int64_t numel = 1, strided = 1;
    for (int64_t d : e.shape) {
      if (d < 0) throw Error(kErrWeights, path + ": tensor '" + e.name + "' has a negative dimension");
      if (__builtin_mul_overflow(numel, d, &numel) ||
          __builtin_mul_overflow(strided, std::max<int64_t>(d, 1), &strided)) {
        throw Error(kErrWeights, path + ": tensor '" + e.name + "' has a shape too large to address");
      }
    }
    uint64_t needed = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(numel), elem, &needed) || needed != e.nbytes) {
      throw Error(kErrWeights, path + ": tensor '" + e.name + "' has " + std::to_string(e.nbytes) +
                                   " bytes, its shape needs " + std::to_string(needed));
    }
    // Checked before allocating: a header may claim more bytes than the file holds.
    if (e.offset > file_size || e.nbytes > file_size - e.offset) {
      throw Error(kErrIo, path + ": tensor '" + e.name + "' needs bytes " + std::to_string(e.offset) + ".." +
                              std::to_string(e.offset) + "+" + std::to_string(e.nbytes) + " but the file has " +
                              std::to_string(file_size) + " (file truncated?)");
    }
    at::Tensor raw = at::empty(e.shape, at::TensorOptions().dtype(scalar_type_of(e.dtype)));
    in.seekg(static_cast<std::streamoff>(e.offset));
    in.read(static_cast<char*>(raw.data_ptr()), static_cast<std::streamsize>(e.nbytes));
    if (!in || static_cast<uint64_t>(in.gcount()) != e.nbytes) {
      throw Error(kErrIo, path + ": tensor '" + e.name + "' is cut short (file truncated?)");
    }
    out[e.name] = raw.to(at::kFloat).contiguous();
  }
  return out;
}

}  // namespace vpt
