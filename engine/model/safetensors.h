// One memory-mapped .safetensors file.
//
// Format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON, then the data section. The JSON maps each tensor name to
// {"dtype": "BF16", "shape": [rows, cols], "data_offsets": [begin, end]}, with offsets
// relative to the start of the data section; the optional "__metadata__" entry holds
// free-form strings and is ignored.
//
// Open() validates the whole header before anything can be read, so a TensorInfo always
// describes bytes that lie inside the mapping: every tensor's byte range fits in the
// file, matches its shape and dtype exactly, and overlaps no other tensor. Gaps between
// tensors are allowed. Nothing is copied: TensorInfo::data points into the mapping.
//
// Thread-safety: immutable after Open(); all methods may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/mapped_file.h"
#include "kernels/dtype.h"

namespace loom {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // row-major; empty for a scalar
  // Exactly product(shape) * DTypeSize(dtype) bytes inside the file's mapping, valid while
  // the owning SafetensorsFile lives. Not necessarily aligned to the element size: read
  // through memcpy (or WidenToFloat), not by casting to float*.
  std::span<const std::byte> data;

  int64_t num_elements() const;
};

class SafetensorsFile {
 public:
  // The safetensors reference implementation's limit; real headers are a few hundred KB.
  static constexpr uint64_t kMaxHeaderBytes = 100'000'000;

  // Maps `path` and validates its header.
  // Errors (each message names the file, and the tensor where one is at fault):
  //   NotFound         the file does not exist.
  //   InvalidArgument  not a regular file; shorter than 8 bytes; oversized header (over
  //                    kMaxHeaderBytes or past the end of the file); header not a JSON
  //                    object; an entry without a valid dtype, shape or data_offsets; an
  //                    unsupported dtype; offsets reversed, past the end of the file
  //                    (truncated file), not matching shape * dtype size, or overlapping
  //                    another tensor; a shape whose byte size overflows int64.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::filesystem::path& path);

  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  // The tensor called `name`, or nullptr. The pointer lives as long as this object.
  const TensorInfo* Find(std::string_view name) const;
  // All tensors, sorted by name.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::filesystem::path& path() const { return mapping_->path(); }

 private:
  SafetensorsFile(std::unique_ptr<MappedFile> mapping, std::vector<TensorInfo> tensors);

  std::unique_ptr<MappedFile> mapping_;
  std::vector<TensorInfo> tensors_;  // sorted by name; data points into *mapping_
};

// "[2048, 256]": for messages.
std::string FormatShape(std::span<const int64_t> shape);

}  // namespace loom
