// Pre-tokenizers: cut normalized text into the pieces ("words") that the model encodes
// independently (tokenizers' `pre_tokenizer`).
//
// Supported "type"s: Sequence, Split (String or Regex pattern, every delimiter behavior,
// `invert`) and ByteLevel (`add_prefix_space`, `use_regex` with the GPT-2 pattern; it
// rewrites each piece into byte-level characters). Anything else is rejected at load time.
//
// Thread-safety: pre-tokenizers are immutable after construction.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/text/json_util.h"
#include "nlohmann/json_fwd.hpp"

namespace loom::text {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;

  // Replaces every piece of `pieces` by its sub-pieces, in order, dropping empty ones.
  // REQUIRES: every piece is valid UTF-8 (pieces stay valid UTF-8).
  // Errors: ResourceExhausted when a regex hits its limits.
  virtual absl::Status PreTokenize(std::vector<std::string>* pieces) const = 0;
};

// The GPT-2 split pattern that ByteLevel applies when `use_regex` is true.
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Builds the pre-tokenizer that the JSON object `config` (at `where`) describes.
// REQUIRES: config is not JSON null (a null pre-tokenizer is simply absent).
absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizerFromJson(const nlohmann::json& config,
                                                                   const JsonLocation& where);

}  // namespace loom::text
