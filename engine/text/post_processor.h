// Post-processors: add the special tokens around an encoded sequence when encoding with
// add_special_tokens (tokenizers' `post_processor`). Only single sequences are supported
// (no pairs).
//
// Supported "type"s: TemplateProcessing (its "single" template), ByteLevel (no effect on
// ids), BertProcessing and RobertaProcessing ([cls] A [sep]), and Sequence.
//
// Thread-safety: post-processors are immutable after construction.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/text/json_util.h"
#include "engine/text/token_id.h"
#include "nlohmann/json_fwd.hpp"

namespace loom::text {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;

  // Adds the special tokens of a single sequence around `ids`.
  virtual void ProcessSingle(std::vector<TokenId>* ids) const = 0;
};

// Builds the post-processor that the JSON object `config` (at `where`) describes.
// REQUIRES: config is not JSON null (a null post-processor is simply absent).
absl::StatusOr<std::unique_ptr<PostProcessor>> PostProcessorFromJson(const nlohmann::json& config,
                                                                     const JsonLocation& where);

}  // namespace loom::text
