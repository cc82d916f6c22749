// tensor_file.h — reads tensors out of a file at byte ranges the TypeScript side has
// validated (safetensors payloads, .npy members), converting them to float32.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

namespace vpt {

struct TensorEntry {
  std::string name;
  std::string dtype;  // "F32" | "F16" | "BF16" | "F64"
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // absolute byte offset in the file
  uint64_t nbytes = 0;
};

using TensorMap = std::map<std::string, at::Tensor>;

// Reads every entry of `path` as a contiguous float32 CPU tensor.
TensorMap read_tensor_entries(const std::string& path, const std::vector<TensorEntry>& entries);

// Bytes per element of a safetensors dtype name; 0 when unsupported.
size_t dtype_size(const std::string& dtype);

}  // namespace vpt
