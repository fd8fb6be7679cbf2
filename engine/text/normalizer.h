// Normalizers: the first stage of encoding, applied to each piece of input text that is
// not an added token (tokenizers' `normalizer`).
//
// Supported "type"s: Sequence, NFC, NFD, NFKC, NFKD (through ICU), Lowercase, Prepend,
// Replace, Strip and ByteLevel. Anything else is rejected at load time with an error that
// names the key, so a tokenizer is never silently mis-normalized.
//
// Thread-safety: normalizers are immutable after construction.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/text/json_util.h"
#include "nlohmann/json_fwd.hpp"

namespace loom::text {

class Normalizer {
 public:
  virtual ~Normalizer() = default;

  // Rewrites `text` in place. REQUIRES: `text` is valid UTF-8; it stays valid.
  // Errors: Internal when ICU fails, ResourceExhausted when a regex hits its limits.
  virtual absl::Status Normalize(std::string* text) const = 0;
};

// Builds the normalizer that the JSON object `config` (at `where`) describes.
// REQUIRES: config is not JSON null (a null normalizer is simply absent).
absl::StatusOr<std::unique_ptr<Normalizer>> NormalizerFromJson(const nlohmann::json& config,
                                                               const JsonLocation& where);

}  // namespace loom::text
