// Decoding arbitrary id sequences: never crashes; ids outside the vocabulary are an
// error, any others decode to valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace loom;
  for (const Tokenizer* tokenizer : {&fuzz::TinyTokenizer(), &fuzz::Qwen3Tokenizer()}) {
    // Each 3 bytes make one id in [-8, vocab + 8): mostly valid, a few out of range.
    const int32_t span = tokenizer->vocab_size() + 16;
    std::vector<TokenId> ids;
    bool in_range = true;
    for (size_t i = 0; i + 3 <= size; i += 3) {
      const uint32_t raw = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16);
      const TokenId id = static_cast<TokenId>(raw % static_cast<uint32_t>(span)) - 8;
      in_range = in_range && id >= 0 && id < tokenizer->vocab_size();
      ids.push_back(id);
    }
    for (bool skip : {false, true}) {
      auto text = tokenizer->Decode(ids, skip);
      fuzz::Require(text.ok() == in_range, "Decode rejects exactly out-of-range ids");
      if (text.ok()) fuzz::Require(fuzz::IsValidUtf8(*text), "Decode returns valid UTF-8");
    }
  }
  return 0;
}
