// The parts of tokenizer_config.json (transformers' tokenizer settings) that change how
// text is encoded: the BOS/EOS tokens, whether to add them, and split_special_tokens.
// Other keys (chat_template, model_max_length, ...) are left to their own readers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace loom::text {

struct TokenizerConfig {
  std::optional<std::string> bos_token;  // content of "bos_token" (string or {content})
  std::optional<std::string> eos_token;  // content of "eos_token"
  std::optional<bool> add_bos_token;     // unset when absent or null
  std::optional<bool> add_eos_token;
  bool split_special_tokens = false;
};

// Parses `json_text`; an empty text is an empty config. `file` names the file in errors
// (InvalidArgument for bad JSON or a key of the wrong type).
absl::StatusOr<TokenizerConfig> ParseTokenizerConfig(std::string_view json_text,
                                                     const std::string& file);

}  // namespace loom::text
