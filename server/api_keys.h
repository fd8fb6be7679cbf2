// API keys: a call must carry `authorization: Bearer <key>` metadata with one of them.
//
// Keys come from --api-key (repeatable) and a key file (one per line; blank lines and
// lines starting with '#' are skipped). They are compared in constant time and never
// logged or put in an error message. With no keys, every call is allowed.
//
// Thread-safety: immutable after construction.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace loom {

class ApiKeys {
 public:
  ApiKeys() = default;
  // Errors: InvalidArgument for an empty key or one with whitespace; NotFound for a key
  // file that cannot be read.
  static absl::StatusOr<ApiKeys> Create(std::vector<std::string> keys,
                                        const std::filesystem::path& key_file = {});

  bool enabled() const { return !keys_.empty(); }

  // OK when keys are off or `authorization` (the metadata value, or empty when absent)
  // is "Bearer <key>" (the scheme in any case) for one of the keys; Unauthenticated
  // otherwise.
  absl::Status Check(std::string_view authorization) const;

 private:
  std::vector<std::string> keys_;
};

}  // namespace loom
