// The weights of a Hugging Face model directory: model.safetensors, or the shards that
// model.safetensors.index.json names.
//
// Every file is memory-mapped and validated by Open() (see safetensors.h), and every
// tensor the index lists is checked to exist in its shard, so a checkpoint that opens
// cannot fail later for a reason that lies in its files. TensorInfo::data stays valid
// while the Checkpoint lives.
//
// Thread-safety: immutable after Open(); all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/safetensors.h"

namespace loom {

class Checkpoint {
 public:
  static constexpr char kSingleFileName[] = "model.safetensors";
  static constexpr char kIndexFileName[] = "model.safetensors.index.json";

  // Opens dir/model.safetensors if it exists, else the shards listed in the "weight_map"
  // (tensor name -> shard file name) of dir/model.safetensors.index.json.
  // Errors (each message names the file at fault, and the tensor where one is):
  //   NotFound         `dir` has neither file; a shard the index names does not exist.
  //   Unimplemented    `dir` holds only PyTorch pickles (pytorch_model*.bin).
  //   InvalidArgument  the index is not valid JSON, has no "weight_map" object, or names a
  //                    shard outside `dir`; a tensor listed in the index is absent from its
  //                    shard; any error of SafetensorsFile::Open().
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(const std::filesystem::path& dir);

  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;

  // The tensor called `name`; the pointer lives as long as this Checkpoint.
  // Errors: NotFound, naming the directory, the tensor and where it was looked for.
  absl::StatusOr<const TensorInfo*> Get(std::string_view name) const;

  // Get(), and the tensor must be F32, F16 or BF16 with exactly `expected_shape`.
  // Errors: NotFound as Get(); InvalidArgument "<file>: tensor '<name>' has shape [a, b],
  // expected [c, d]", or naming the dtype found.
  absl::StatusOr<const TensorInfo*> GetFloat(std::string_view name,
                                             std::span<const int64_t> expected_shape) const;

  bool Contains(std::string_view name) const;
  // Every tensor name, sorted.
  std::vector<std::string> TensorNames() const;
  // The file holding `name`, for messages; empty if there is no such tensor.
  std::filesystem::path FileOf(std::string_view name) const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  // `where` completes "not found (looked in ...)" messages.
  Checkpoint(std::filesystem::path dir, std::string where);

  struct Entry {
    const TensorInfo* tensor;
    const SafetensorsFile* file;
  };

  std::filesystem::path dir_;
  std::string where_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, Entry, std::less<>> tensors_;  // points into files_
};

}  // namespace loom
