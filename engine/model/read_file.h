// Reading the small text files of a model directory (config.json, the shard index).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

namespace loom {

// The whole of `path`, which must be a regular file of at most `max_bytes`: a guard
// against being pointed at something that is not a config file.
// Errors (naming the path): NotFound if it does not exist; InvalidArgument if it is not a
// regular file or is larger than `max_bytes`; Internal if reading fails.
absl::StatusOr<std::string> ReadSmallFile(const std::filesystem::path& path,
                                          std::uintmax_t max_bytes);

}  // namespace loom
