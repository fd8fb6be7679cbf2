// Encoding arbitrary bytes: never crashes; rejects exactly the invalid UTF-8; valid
// text gives in-range ids, and on the bundled byte-level tokenizer decoding them gives
// the text back.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace loom;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid = fuzz::IsValidUtf8(text);
  for (const Tokenizer* tokenizer : {&fuzz::TinyTokenizer(), &fuzz::Qwen3Tokenizer()}) {
    for (bool special : {false, true}) {
      auto ids = tokenizer->Encode(text, special);
      fuzz::Require(ids.ok() == valid, "Encode accepts exactly valid UTF-8");
      if (!ids.ok()) continue;
      for (TokenId id : *ids) {
        fuzz::Require(id >= 0 && id < tokenizer->vocab_size(), "ids are in the vocabulary");
      }
      auto decoded = tokenizer->Decode(*ids, /*skip_special_tokens=*/false);
      fuzz::Require(decoded.ok(), "Decode of Encode succeeds");
      if (tokenizer == &fuzz::TinyTokenizer() && !special) {
        fuzz::Require(*decoded == text, "byte-level BPE round-trips");
      }
    }
  }
  return 0;
}
