// Incremental detokenization for streaming: token ids in, text out as soon as it is final.
//
// Contract. Let P = tokenizer.Decode(prompt_ids) and F = tokenizer.Decode(prompt_ids ++ ids),
// where `ids` are all the ids pushed, both with the same skip_special_tokens. The pieces
// that Push() returns for `ids`, followed by what Finish() returns, concatenate to
// exactly F without its longest common prefix with P (compared in whole characters):
//  - with no prompt ids, that is Decode(ids) itself;
//  - when P is a prefix of F (the usual case), it is the text that `ids` add after the
//    prompt. Rules for the start of the text apply only at the start of the whole
//    sequence, so after a Llama 2 prompt "▁Hello" streams as " Hello", although
//    Decode() of that id alone gives "Hello" (Strip drops the leading space);
//  - P is not a prefix of F only when the new ids change how the end of the prompt
//    decodes (a character whose bytes straddle the boundary, or a byte-fallback run that
//    continues across it and turns out invalid); the pieces then restart at the first
//    character where F departs from P, so no text of F is ever lost.
// Every piece is valid UTF-8 and holds whole characters: the bytes of an unfinished
// character, and a run of Llama 2's <0xXX> tokens until a token of another kind ends it,
// are held back (see text::DecoderStream for exactly what waits and why). Finish()
// releases the rest, decoded as Decode() does (U+FFFD for bytes that never formed a
// character).
//
// Cost: Create() decodes the prompt once and streams it through the decoder (linear in
// its length); each Push() is linear in the token and in the text it releases, O(1)
// amortized per token, never a re-decode of the history.
//
// Thread-safety: one Detokenizer per stream, used from one thread at a time; the
// tokenizer (immutable) may be shared.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "engine/text/token_id.h"
#include "engine/text/tokenizer.h"

namespace loom {
namespace text {
class DecoderStream;
}  // namespace text

class Detokenizer {
 public:
  // A detokenizer for the ids that follow `prompt_ids` (which may be empty).
  // REQUIRES: `tokenizer` outlives the detokenizer.
  // Errors: InvalidArgument naming a prompt id < 0 or >= tokenizer.vocab_size();
  // ResourceExhausted when a decoder regex hits its limits.
  static absl::StatusOr<Detokenizer> Create(const Tokenizer& tokenizer, bool skip_special_tokens,
                                            std::span<const TokenId> prompt_ids = {});

  Detokenizer(Detokenizer&&) noexcept;
  Detokenizer& operator=(Detokenizer&&) noexcept;
  ~Detokenizer();

  // Takes the next id and returns the text that is now final (often empty).
  // REQUIRES: Finish() has not been called.
  // Errors: InvalidArgument for an id < 0 or >= vocab_size(), which is then ignored, as
  // if not pushed; ResourceExhausted from a decoder regex (the detokenizer is then
  // unusable).
  absl::StatusOr<std::string> Push(TokenId id);

  // Ends the stream and returns all text still held back.
  // REQUIRES: not called before. Errors: as Push().
  absl::StatusOr<std::string> Finish();

 private:
  Detokenizer(const Tokenizer& tokenizer, bool skip_special_tokens,
              std::unique_ptr<text::DecoderStream> stream);
  // Returns the part of the final text `text` that goes past the prompt as Decode(prompt)
  // showed it.
  std::string AfterShownPrompt(std::string text);

  const Tokenizer* tokenizer_;
  bool skip_special_tokens_;
  std::unique_ptr<text::DecoderStream> stream_;
  // The end of Decode(prompt) that the stream had not yet released when the prompt
  // ended; the released text that matches it, character by character, is not repeated.
  std::string shown_;
  size_t shown_matched_ = 0;  // bytes of shown_ matched so far
  bool diverged_ = false;     // the released text departed from shown_
};

}  // namespace loom
