// Decoders: turn the token strings of a decode back into text (tokenizers' `decoder`).
//
// Each decoder rewrites the list of token strings (tokenizers' decode_chain); the
// tokenizer concatenates what the last one leaves.
// Supported "type"s: ByteLevel (byte-level characters back to bytes, then lossy UTF-8),
// Replace, ByteFallback (<0xXX> tokens to bytes), Fuse, Strip, Metaspace (the
// replacement character back to ' ', dropped in the first token unless the prepend
// scheme is "never") and Sequence.
//
// DecoderStream applies a decoder incrementally, for streaming detokenization.
//
// Thread-safety: decoders are immutable after construction. A DecoderStream is not
// thread-safe; use one per sequence.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/text/json_util.h"
#include "nlohmann/json_fwd.hpp"

namespace loom::text {

class StreamingStep;  // one incremental step of a DecoderStream (decoder.cc)

class Decoder {
 public:
  virtual ~Decoder() = default;

  // Rewrites `tokens` in place. REQUIRES: every token is valid UTF-8; so is every result.
  // Errors: ResourceExhausted when a regex hits its limits.
  virtual absl::Status DecodeChain(std::vector<std::string>* tokens) const = 0;

  // For DecoderStream (StreamingStep is private to decoder.cc): appends this decoder's
  // incremental steps to `steps`. `*joined` tells whether an
  // earlier step (Fuse, ByteLevel) has joined the tokens into one, so that the steps see
  // consecutive fragments of that one token; a decoder that joins sets it. Returns false
  // when the decoder has no exact incremental form in that position.
  virtual bool AppendStreamingSteps(bool* joined,
                                    std::vector<std::unique_ptr<StreamingStep>>* steps) const = 0;
};

// Builds the decoder that the JSON object `config` (at `where`) describes.
// REQUIRES: config is not JSON null (a null decoder is simply absent).
absl::StatusOr<std::unique_ptr<Decoder>> DecoderFromJson(const nlohmann::json& config,
                                                         const JsonLocation& where);

// A decoder applied while the tokens arrive.
//
// Contract: for any token strings t1..tn, what Push(t1), ..., Push(tn) and Finish() append
// concatenates to exactly the decoder's text for the whole list (DecodeChain, then the
// tokens joined; with no decoder, the tokens joined by " "). Text is appended as soon as
// no later token can change it, so every appended piece is valid UTF-8. Held back until
// a later token (or Finish) decides them:
//  - the bytes of an unfinished UTF-8 character (ByteLevel);
//  - a whole run of <0xXX> tokens (ByteFallback decodes a run all or nothing: a run that
//    is not valid UTF-8 becomes one U+FFFD per byte, even its valid prefix);
//  - up to `stop` trailing characters (Strip after a join);
//  - a possible partial match (a String Replace after a join).
// Each Push costs time linear in the token and what it releases, so O(1) amortized per
// token. A chain with no exact incremental form (ByteLevel, ByteFallback or a Regex
// Replace after Fuse; no real tokenizer has one) holds all text until Finish().
class DecoderStream {
 public:
  // `decoder` may be null (tokens joined by " "); it must outlive the stream.
  explicit DecoderStream(const Decoder* decoder);
  DecoderStream(const DecoderStream&) = delete;
  DecoderStream& operator=(const DecoderStream&) = delete;
  ~DecoderStream();

  // Feeds the next token string and appends the text that is now final to `text`.
  // REQUIRES: `token` is valid UTF-8; Finish() has not been called.
  // Errors: ResourceExhausted when a decoder regex hits its limits (the stream is then
  // unusable).
  absl::Status Push(std::string token, std::string* text);

  // Ends the stream: appends all text still held back. REQUIRES: not called before.
  absl::Status Finish(std::string* text);

  // False when the decoder has no incremental form and all text waits for Finish().
  bool incremental() const { return incremental_; }

 private:
  const Decoder* decoder_;
  std::vector<std::unique_ptr<StreamingStep>> steps_;
  bool incremental_ = true;
  bool finished_ = false;
  std::vector<std::string> held_tokens_;  // all tokens, when not incremental
};

}  // namespace loom::text
