// Encoding speed of the Llama 3 tokenizer on English text, one core.
//
//   cmake --build --preset default --target tokenizer_encode_bench
//   build/default/tests/bench/tokenizer_encode_bench
//
// The text is the longest English prompt of tests/goldens/tiny-shakespeare-llama.json
// (a scene of The Taming of the Shrew), repeated to 1 MiB. Results go in
// docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "engine/text/tokenizer.h"
#include "nlohmann/json.hpp"

namespace {

std::string EnglishText(size_t bytes) {
  std::ifstream in(std::string(LOOM_SOURCE_DIR) + "/tests/goldens/tiny-shakespeare-llama.json");
  const auto golden = nlohmann::json::parse(in);
  std::string longest;
  for (const auto& c : golden["cases"]) {
    const std::string prompt = c["prompt"];
    if (prompt.size() > longest.size()) longest = prompt;
  }
  std::string text;
  while (text.size() < bytes) text += longest + "\n\n";
  text.resize(bytes);
  // Do not end inside a UTF-8 character.
  while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();
  return text;
}

const loom::Tokenizer& Llama3() {
  static const loom::Tokenizer* tokenizer = [] {
    auto t = loom::Tokenizer::Load(std::string(LOOM_DEPS_DIR) + "/tokenizers/llama3");
    if (!t.ok()) {
      std::fprintf(stderr, "%s (run scripts/setup.sh)\n",
                   std::string(t.status().message()).c_str());
      std::abort();
    }
    return t->release();
  }();
  return *tokenizer;
}

void BM_Llama3EncodeEnglish(benchmark::State& state) {
  const std::string text = EnglishText(static_cast<size_t>(state.range(0)));
  const loom::Tokenizer& tokenizer = Llama3();
  size_t tokens = 0;
  for (auto _ : state) {
    auto ids = tokenizer.Encode(text, /*add_special_tokens=*/false);
    if (!ids.ok()) state.SkipWithError("encode failed");
    tokens = ids->size();
    benchmark::DoNotOptimize(ids);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
  state.counters["bytes_per_token"] = static_cast<double>(text.size()) / tokens;
}
BENCHMARK(BM_Llama3EncodeEnglish)->Arg(4 << 10)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
