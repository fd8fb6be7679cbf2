// Checks Tokenizer against Hugging Face's outputs for real tokenizers: the goldens in
// tests/goldens/tokenizers.json (made with transformers' fast tokenizers), the bundled
// tiny model's prompts, and encode/decode round trips on random text.

#include <unicode/normalizer2.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "engine/text/tokenizer.h"
#include "engine/text/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom {
namespace {

using nlohmann::json;

json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream contents;
  contents << in.rdbuf();
  return json::parse(contents.str(), nullptr, /*allow_exceptions=*/false);
}

// The real tokenizers are fetched by scripts/setup.sh; their absence is a failure, not a
// skip, so that a machine without them cannot pass silently.
std::unique_ptr<Tokenizer> LoadReal(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(LOOM_DEPS_DIR) / "tokenizers" / name;
  if (!std::filesystem::exists(dir / "tokenizer.json")) {
    ADD_FAILURE() << dir / "tokenizer.json"
                  << " is missing: run scripts/setup.sh";
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(dir);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? *std::move(tokenizer) : nullptr;
}

std::vector<TokenId> Ids(const json& list) { return list.get<std::vector<TokenId>>(); }

// Encode (without and with special tokens) and decode every golden case of `name`.
void CheckGoldens(const std::string& name) {
  const std::unique_ptr<Tokenizer> tokenizer = LoadReal(name);
  ASSERT_NE(tokenizer, nullptr);
  const json goldens =
      ReadJson(std::filesystem::path(LOOM_SOURCE_DIR) / "tests/goldens/tokenizers.json");
  ASSERT_TRUE(goldens.contains(name));
  const json& cases = goldens[name]["encode"];
  ASSERT_FALSE(cases.empty());
  for (const json& c : cases) {
    const std::string text = c["text"].get<std::string>();
    SCOPED_TRACE(::testing::Message() << name << " text: \"" << text << "\"");
    absl::StatusOr<std::vector<TokenId>> plain = tokenizer->Encode(text, false);
    ASSERT_TRUE(plain.ok()) << plain.status();
    EXPECT_EQ(*plain, Ids(c["ids"]));
    absl::StatusOr<std::vector<TokenId>> with_special = tokenizer->Encode(text, true);
    ASSERT_TRUE(with_special.ok()) << with_special.status();
    EXPECT_EQ(*with_special, Ids(c["ids_with_special"]));
    const std::vector<TokenId> ids = Ids(c["ids"]);
    absl::StatusOr<std::string> decoded = tokenizer->Decode(ids, false);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, c["decoded"].get<std::string>());
  }
}

TEST(TokenizerGoldenTest, Llama3MatchesHuggingFace) { CheckGoldens("llama3"); }
TEST(TokenizerGoldenTest, Qwen3MatchesHuggingFace) { CheckGoldens("qwen3"); }
TEST(TokenizerGoldenTest, Llama2MatchesHuggingFace) { CheckGoldens("llama2"); }

TEST(TokenizerGoldenTest, Llama3SpecialTokensAndConfig) {
  const std::unique_ptr<Tokenizer> tokenizer = LoadReal("llama3");
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->vocab_size(), 128256);
  EXPECT_EQ(tokenizer->bos_token_id(), 128000);
  EXPECT_EQ(tokenizer->eos_token_id(), 128001);
  EXPECT_TRUE(tokenizer->IsSpecial(128009));
  EXPECT_FALSE(tokenizer->IsSpecial(9906));
  EXPECT_EQ(tokenizer->TokenToId("<|eot_id|>"), 128009);
  EXPECT_EQ(tokenizer->IdToToken(9906), "Hello");
  const std::vector<TokenId> chat = {128006, 882, 128007, 271, 9906, 0, 128009};
  EXPECT_EQ(tokenizer->Decode(chat, false).value(),
            "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>");
  EXPECT_EQ(tokenizer->Decode(chat, true).value(), "user\n\nHello!");
  EXPECT_EQ(tokenizer->Encode("<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>", false)
                .value(),
            chat);
}

TEST(TokenizerGoldenTest, Qwen3SpecialTokensAndConfig) {
  const std::unique_ptr<Tokenizer> tokenizer = LoadReal("qwen3");
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->bos_token_id(), std::nullopt);
  EXPECT_EQ(tokenizer->eos_token_id(), 151645);  // <|im_end|>
  EXPECT_TRUE(tokenizer->IsSpecial(151643));
  EXPECT_GE(tokenizer->vocab_size(), 151669);
}

TEST(TokenizerGoldenTest, TinyShakespearePromptsAndGreedyText) {
  const std::filesystem::path dir =
      std::filesystem::path(LOOM_SOURCE_DIR) / "models/tiny-shakespeare-llama";
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->bos_token_id(), 2043);
  const json goldens = ReadJson(std::filesystem::path(LOOM_SOURCE_DIR) /
                                "tests/goldens/tiny-shakespeare-llama.json");
  const json& cases = goldens["cases"];
  ASSERT_FALSE(cases.empty());
  for (const json& c : cases) {
    const std::string prompt = c["prompt"].get<std::string>();
    SCOPED_TRACE(::testing::Message() << "prompt: \"" << prompt << "\"");
    absl::StatusOr<std::vector<TokenId>> ids = (*tokenizer)->Encode(prompt, true);
    ASSERT_TRUE(ids.ok()) << ids.status();
    // The BOS comes from the post-processor; add_bos_token must not add a second one.
    EXPECT_EQ(*ids, Ids(c["prompt_ids"]));
    const std::vector<TokenId> greedy = Ids(c["greedy_ids"]);
    absl::StatusOr<std::string> text = (*tokenizer)->Decode(greedy, false);
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_EQ(*text, c["greedy_text"].get<std::string>());
  }
}

// Random valid UTF-8 drawn from ASCII, whitespace, Latin, combining marks, CJK, Hangul,
// emoji and the rest of the planes (surrogates excluded).
std::string RandomText(std::mt19937& rng) {
  static constexpr std::pair<char32_t, char32_t> kRanges[] = {
      {0x20, 0x7E},     {0x09, 0x0D},       {0xA0, 0x24F}, {0x300, 0x36F},    {0x4E00, 0x9FFF},
      {0xAC00, 0xD7A3}, {0x1F300, 0x1FAFF}, {0x1, 0xD7FF}, {0xE000, 0x10FFFF}};
  std::uniform_int_distribution<int> length(0, 40);
  std::uniform_int_distribution<size_t> range(0, std::size(kRanges) - 1);
  std::string text;
  const int n = length(rng);
  for (int i = 0; i < n; ++i) {
    // ASCII gets extra weight so that words, numbers and contractions appear.
    const auto [lo, hi] = rng() % 3 == 0 ? kRanges[0] : kRanges[range(rng)];
    std::uniform_int_distribution<uint32_t> code(lo, hi);
    text::AppendUtf8(static_cast<char32_t>(code(rng)), &text);
  }
  return text;
}

std::string Nfc(const std::string& text) {
  UErrorCode error = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(error);
  std::string out;
  icu::StringByteSink<std::string> sink(&out);
  nfc->normalizeUTF8(0, text, sink, nullptr, error);
  EXPECT_TRUE(U_SUCCESS(error)) << u_errorName(error);
  return out;
}

// decode(encode(text)) must give `expected(text)`: the text itself, or what the
// tokenizer's normalizer makes of it.
void CheckRoundTrip(const std::string& name,
                    const std::function<std::string(const std::string&)>& expected) {
  const std::unique_ptr<Tokenizer> tokenizer = LoadReal(name);
  ASSERT_NE(tokenizer, nullptr);
  std::mt19937 rng(20240601);
  for (int i = 0; i < 400; ++i) {
    const std::string text = RandomText(rng);
    SCOPED_TRACE(::testing::Message() << "case " << i);
    absl::StatusOr<std::vector<TokenId>> ids = tokenizer->Encode(text, false);
    ASSERT_TRUE(ids.ok()) << ids.status();
    absl::StatusOr<std::string> decoded = tokenizer->Decode(*ids, false);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_EQ(*decoded, expected(text));
  }
}

std::string Same(const std::string& text) { return text; }

// Llama 2 writes spaces as U+2581 and decodes every U+2581 back to a space.
std::string SpacesForMetaspace(const std::string& text) {
  return absl::StrReplaceAll(text, {{"\xE2\x96\x81", " "}});
}

TEST(TokenizerGoldenTest, Llama3RoundTripsRandomText) { CheckRoundTrip("llama3", Same); }
TEST(TokenizerGoldenTest, Qwen3RoundTripsRandomTextToNfc) { CheckRoundTrip("qwen3", Nfc); }
TEST(TokenizerGoldenTest, Llama2RoundTripsRandomText) {
  CheckRoundTrip("llama2", SpacesForMetaspace);
}

}  // namespace
}  // namespace loom
