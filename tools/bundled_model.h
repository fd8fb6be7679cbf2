// Where the bundled tiny model lives: the default MODEL_DIR of every command.
#pragma once

#include <filesystem>

#include "absl/status/statusor.h"

namespace loom {

// The first existing of:
//  1. <dir of the loom binary>/../share/loom/models/tiny-shakespeare-llama (installed);
//  2. the source tree's models/tiny-shakespeare-llama (a build tree).
// NotFound listing both when neither exists.
absl::StatusOr<std::filesystem::path> BundledModelDir();

}  // namespace loom
