// Reads tokenizer.json in one streaming pass.
//
// Everything becomes an nlohmann DOM except the BPE model's "vocab" object and "merges"
// array, which are pulled out as flat lists: Llama 3's 128k tokens and 280k merges would
// otherwise be about a million heap nodes, which dominates load time (and is several
// seconds under the sanitizers).
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "engine/text/bpe_model.h"
#include "engine/text/json_util.h"
#include "nlohmann/json.hpp"

namespace loom::text {

struct TokenizerJson {
  // The document; model.vocab and model.merges are absent when captured in `tables`.
  nlohmann::json document;
  // model.vocab when it is an object and model.merges when it is an array; otherwise
  // unset, and the value (if any) stays in `document` for BpeModel to judge.
  BpeTables tables;
};

// Parses `text`. Errors: InvalidArgument at `root` for text that is not JSON (with the
// byte offset), or at the offending key for a malformed vocab or merges entry.
absl::StatusOr<TokenizerJson> ParseTokenizerJson(std::string_view text, const JsonLocation& root);

}  // namespace loom::text
