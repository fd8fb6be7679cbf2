// Turns generated token ids into printable text as they arrive, for the terminal.
//
// Each Push decodes the whole output so far and returns only what is new, holding back
// a trailing U+FFFD that may be the start of a character whose remaining bytes are in
// the next token. Quadratic in the output length, which is fine for one CLI stream.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/text/tokenizer.h"

namespace loom {

class TextStream {
 public:
  explicit TextStream(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

  // The text that `id` completes; may be empty.
  std::string Push(int32_t id);
  // Whatever is still held back, at the end of the stream.
  std::string Flush();

 private:
  std::string Emit(bool final);

  const Tokenizer& tokenizer_;
  std::vector<int32_t> ids_;
  size_t emitted_ = 0;  // bytes of the decoded text already returned
};

}  // namespace loom
