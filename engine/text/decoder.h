// Decoders: turn the token strings of a decode back into text (tokenizers' `decoder`).
//
// Each decoder rewrites the list of token strings (tokenizers' decode_chain); the
// tokenizer concatenates what the last one leaves.
// Supported "type"s: ByteLevel (byte-level characters back to bytes, then lossy UTF-8),
// Replace, ByteFallback (<0xXX> tokens to bytes), Fuse, Strip, and Sequence.
//
// Thread-safety: decoders are immutable after construction.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/text/json_util.h"
#include "nlohmann/json_fwd.hpp"

namespace loom::text {

class Decoder {
 public:
  virtual ~Decoder() = default;

  // Rewrites `tokens` in place. REQUIRES: every token is valid UTF-8; so is every result.
  // Errors: ResourceExhausted when a regex hits its limits.
  virtual absl::Status DecodeChain(std::vector<std::string>* tokens) const = 0;
};

// Builds the decoder that the JSON object `config` (at `where`) describes.
// REQUIRES: config is not JSON null (a null decoder is simply absent).
absl::StatusOr<std::unique_ptr<Decoder>> DecoderFromJson(const nlohmann::json& config,
                                                         const JsonLocation& where);

}  // namespace loom::text
