// Shared helpers of the libFuzzer targets: the tokenizers they exercise, loaded once.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "engine/text/tokenizer.h"

namespace loom::fuzz {

// Loads dir's tokenizer or aborts: a fuzzer without its tokenizer has nothing to test.
inline std::unique_ptr<Tokenizer> LoadOrDie(const std::string& dir) {
  auto tokenizer = Tokenizer::Load(dir);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "cannot load %s: %s (run scripts/setup.sh)\n", dir.c_str(),
                 std::string(tokenizer.status().message()).c_str());
    std::abort();
  }
  return *std::move(tokenizer);
}

// The bundled model's byte-level BPE (no normalizer, so decoding inverts encoding) and
// Qwen3's (NFC normalizer, many added tokens).
inline const Tokenizer& TinyTokenizer() {
  static const auto* t =
      LoadOrDie(std::string(LOOM_SOURCE_DIR) + "/models/tiny-shakespeare-llama").release();
  return *t;
}
inline const Tokenizer& Qwen3Tokenizer() {
  static const auto* t = LoadOrDie(std::string(LOOM_DEPS_DIR) + "/tokenizers/qwen3").release();
  return *t;
}

// Strict UTF-8 validity (no overlongs, surrogates or code points past U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Aborts with `what` when `condition` fails, so libFuzzer records the input.
inline void Require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace loom::fuzz
