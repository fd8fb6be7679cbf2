// A read-only memory mapping of a whole file.
//
// Weights are served straight from the page cache: nothing is copied, and pages are read
// on first touch. The mapping is private and read-only, so loom can never write to a
// checkpoint. If another process truncates the file while it is mapped, touching the lost
// pages raises SIGBUS; loom does not guard against that (nor does any mmap-based loader).
//
// Thread-safety: immutable after Open(); bytes() may be read from any thread.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>

#include "absl/status/statusor.h"

namespace loom {

class MappedFile {
 public:
  // Maps `path` read-only.
  // Errors: NotFound if the file does not exist; InvalidArgument if it is not a regular
  // file; Internal for other open/stat/mmap failures. Each message names the path.
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::filesystem::path& path);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  // The whole file; empty for an empty file. Valid for the lifetime of this object.
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  const std::filesystem::path& path() const { return path_; }

 private:
  MappedFile(std::filesystem::path path, const std::byte* data, size_t size);

  std::filesystem::path path_;
  const std::byte* data_;  // nullptr when size_ == 0 (an empty file cannot be mapped)
  size_t size_;
};

}  // namespace loom
