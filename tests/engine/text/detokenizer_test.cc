// Detokenizer: streamed pieces against Tokenizer::Decode, on small hand-made tokenizers
// (exact piece boundaries) and on the real Llama 2, Llama 3, Qwen3 and DeepSeek-V3
// tokenizers (scripts, emoji sequences, and thousands of seeded random id streams).

#include "engine/text/detokenizer.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "engine/text/byte_level.h"
#include "engine/text/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

const std::string kFffd(text::kReplacementCharacter);

struct Streamed {
  std::vector<std::string> pieces;  // one per Push, then Finish's
  std::string text;                 // their concatenation
};

// Streams `ids` after `prompt` and returns every piece.
Streamed Stream(const Tokenizer& tokenizer, bool skip_special_tokens,
                std::span<const TokenId> prompt, std::span<const TokenId> ids) {
  Streamed streamed;
  absl::StatusOr<Detokenizer> detokenizer =
      Detokenizer::Create(tokenizer, skip_special_tokens, prompt);
  EXPECT_TRUE(detokenizer.ok()) << detokenizer.status();
  if (!detokenizer.ok()) return streamed;
  for (const TokenId id : ids) {
    absl::StatusOr<std::string> piece = detokenizer->Push(id);
    EXPECT_TRUE(piece.ok()) << piece.status();
    streamed.pieces.push_back(piece.ok() ? *piece : "");
  }
  absl::StatusOr<std::string> rest = detokenizer->Finish();
  EXPECT_TRUE(rest.ok()) << rest.status();
  streamed.pieces.push_back(rest.ok() ? *rest : "");
  for (const std::string& piece : streamed.pieces) streamed.text += piece;
  return streamed;
}

// The contract: Decode(prompt ++ ids) without its longest common prefix, in whole
// characters, with Decode(prompt).
std::string Expected(const Tokenizer& tokenizer, bool skip_special_tokens,
                     std::span<const TokenId> prompt, std::span<const TokenId> ids) {
  std::vector<TokenId> all(prompt.begin(), prompt.end());
  all.insert(all.end(), ids.begin(), ids.end());
  const std::string full = tokenizer.Decode(all, skip_special_tokens).value();
  const std::string shown = tokenizer.Decode(prompt, skip_special_tokens).value();
  size_t common = 0;
  while (common < full.size()) {
    const size_t length = text::Utf8SequenceLength(full, common);
    if (full.compare(common, length, shown, common, length) != 0) break;
    common += length;
  }
  return full.substr(common);
}

// Streams and checks the contract and that every piece is valid UTF-8.
void CheckStream(const Tokenizer& tokenizer, bool skip_special_tokens,
                 std::span<const TokenId> prompt, std::span<const TokenId> ids) {
  const Streamed streamed = Stream(tokenizer, skip_special_tokens, prompt, ids);
  ASSERT_EQ(streamed.text, Expected(tokenizer, skip_special_tokens, prompt, ids))
      << "prompt " << json(std::vector<TokenId>(prompt.begin(), prompt.end())).dump() << " ids "
      << json(std::vector<TokenId>(ids.begin(), ids.end())).dump() << " skip "
      << skip_special_tokens;
  for (size_t i = 0; i < streamed.pieces.size(); ++i) {
    ASSERT_TRUE(text::IsValidUtf8(streamed.pieces[i])) << "piece " << i;
  }
}

std::unique_ptr<Tokenizer> MustBuild(const json& tokenizer) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> built =
      Tokenizer::FromJson(tokenizer.dump(), "", "mem");
  EXPECT_TRUE(built.ok()) << built.status();
  return built.ok() ? *std::move(built) : nullptr;
}

// ---- A byte-level tokenizer: id b is byte b, so tests choose every byte boundary. ----

constexpr TokenId kEnd = 256;    // "<|end|>", special
constexpr TokenId kExtra = 257;  // "<extra>", not special

json ByteLevelJson() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) {
    std::string token;
    text::AppendByteLevel(std::string(1, static_cast<char>(b)), &token);
    vocab[token] = b;
  }
  return {{"added_tokens",
           {{{"id", kEnd}, {"content", "<|end|>"}, {"special", true}},
            {{"id", kExtra}, {"content", "<extra>"}, {"special", false}}}},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}}};
}

std::vector<TokenId> BytesOf(std::string_view bytes) {
  std::vector<TokenId> ids;
  for (const char c : bytes) ids.push_back(static_cast<uint8_t>(c));
  return ids;
}

TEST(DetokenizerTest, ByteLevelReleasesEachCharacterWithItsLastByte) {
  const std::unique_ptr<Tokenizer> tokenizer = MustBuild(ByteLevelJson());
  ASSERT_NE(tokenizer, nullptr);
  // "a", "é" (C3 A9), "😀" (F0 9F 98 80).
  const std::vector<TokenId> ids = BytesOf("a\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_THAT(Stream(*tokenizer, true, {}, ids).pieces,
              ElementsAre("a", "", "\xC3\xA9", "", "", "", "\xF0\x9F\x98\x80", ""));
}

TEST(DetokenizerTest, ByteLevelInvalidBytesBecomeReplacementCharacters) {
  const std::unique_ptr<Tokenizer> tokenizer = MustBuild(ByteLevelJson());
  ASSERT_NE(tokenizer, nullptr);
  // C3 followed by 'A' can never complete: U+FFFD as soon as 'A' arrives. A lone
  // continuation byte is invalid at once. E4 BD at the end is one unfinished character:
  // one U+FFFD at Finish, as Decode gives.
  EXPECT_THAT(Stream(*tokenizer, true, {},
                     BytesOf("\xC3"
                             "A\x80\xE4\xBD"))
                  .pieces,
              ElementsAre("", kFffd + "A", kFffd, "", "", kFffd));
  EXPECT_EQ(tokenizer
                ->Decode(BytesOf("\xC3"
                                 "A\x80\xE4\xBD"),
                         true)
                .value(),
            kFffd + "A" + kFffd + kFffd);
}

TEST(DetokenizerTest, ByteLevelAddedTokensAndSkipSpecialTokens) {
  const std::unique_ptr<Tokenizer> tokenizer = MustBuild(ByteLevelJson());
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<TokenId> ids = {'h', 'i', kEnd, kExtra, 0xC3, kEnd, 0xA9};
  EXPECT_THAT(Stream(*tokenizer, true, {}, ids).pieces,
              ElementsAre("h", "i", "", "<extra>", "", "", "\xC3\xA9", ""));
  // Not skipped, the special token cuts the character in two.
  EXPECT_THAT(Stream(*tokenizer, false, {}, ids).pieces,
              ElementsAre("h", "i", "<|end|>", "<extra>", "", kFffd + "<|end|>", kFffd, ""));
}

TEST(DetokenizerTest, PromptEndingInsideACharacterRestartsAtTheDifference) {
  const std::unique_ptr<Tokenizer> tokenizer = MustBuild(ByteLevelJson());
  ASSERT_NE(tokenizer, nullptr);
  // Decode(prompt) shows "x" + U+FFFD; the first new byte completes "é", so the stream
  // goes on from the character where the full text departs from what was shown.
  const std::vector<TokenId> prompt = BytesOf("x\xC3");
  EXPECT_THAT(Stream(*tokenizer, true, prompt, BytesOf("\xA9!")).pieces,
              ElementsAre("\xC3\xA9", "!", ""));
  // A prompt that ends on a character boundary is never repeated.
  EXPECT_THAT(Stream(*tokenizer, true, BytesOf("x\xC3\xA9"), BytesOf("y")).pieces,
              ElementsAre("y", ""));
}

// ---- A SentencePiece-style tokenizer with Llama 2's decoder. ----

constexpr TokenId kBos = 1;
constexpr TokenId kEos = 2;
constexpr TokenId kByte0 = 3;  // <0x00>; <0xXX> is kByte0 + XX
constexpr TokenId kSpace = 259;
constexpr TokenId kSpaceHello = 260;
constexpr TokenId kSpaceWorld = 261;
constexpr TokenId kBang = 262;

TokenId ByteToken(uint8_t byte) { return kByte0 + byte; }

json SentencePieceJson() {
  json vocab = {{"<unk>", 0}, {"<s>", kBos}, {"</s>", kEos}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = kByte0 + b;
  }
  vocab["\xE2\x96\x81"] = kSpace;
  vocab["\xE2\x96\x81Hello"] = kSpaceHello;
  vocab["\xE2\x96\x81world"] = kSpaceWorld;
  vocab["!"] = kBang;
  return {
      {"added_tokens",
       {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
        {{"id", kBos}, {"content", "<s>"}, {"special", true}},
        {{"id", kEos}, {"content", "</s>"}, {"special", true}}}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"vocab", vocab},
        {"merges", json::array()},
        {"byte_fallback", true},
        {"unk_token", "<unk>"}}}};
}

TEST(DetokenizerTest, SentencePieceStripsOnlyTheFirstLeadingSpaceOfTheSequence) {
  const std::unique_ptr<Tokenizer> tokenizer = MustBuild(SentencePieceJson());
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(Stream(*tokenizer, true, {}, std::vector<TokenId>{kSpaceHello, kSpaceWorld}).pieces,
              ElementsAre("Hello", " world", ""));
  // A lone "▁" first: its space is the one stripped, the next word keeps its own.
  EXPECT_THAT(Stream(*tokenizer, true, {}, std::vector<TokenId>{kSpace, kSpaceHello}).pieces,
              ElementsAre("", " Hello", ""));
  EXPECT_EQ(tokenizer->Decode(std::vector<TokenId>{kSpace, kSpaceHello}, true).value(), " Hello");
}

TEST(DetokenizerTest, SentencePieceAfterAPromptKeepsTheLeadingSpace) {
  const std::unique_ptr<Tokenizer> tokenizer = MustBuild(SentencePieceJson());
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<TokenId> prompt = {kBos, kSpaceHello};
  EXPECT_THAT(Stream(*tokenizer, true, prompt, std::vector<TokenId>{kSpaceWorld, kBang}).pieces,
              ElementsAre(" world", "!", ""));
  // Decode of the new id alone would strip it.
  EXPECT_EQ(tokenizer->Decode(std::vector<TokenId>{kSpaceWorld}, true).value(), "world");
  // A prompt of only a skipped BOS shows nothing: the sequence still starts at "▁world".
  EXPECT_THAT(
      Stream(*tokenizer, true, std::vector<TokenId>{kBos}, std::vector<TokenId>{kSpaceWorld})
          .pieces,
      ElementsAre("world", ""));
  // Not skipped, "<s>" is text, so the space after it stays.
  EXPECT_THAT(
      Stream(*tokenizer, false, std::vector<TokenId>{kBos}, std::vector<TokenId>{kSpaceWorld, kEos})
          .pieces,
      ElementsAre(" world", "</s>", ""));
}

TEST(DetokenizerTest, ByteFallbackRunsAreReleasedWhenTheyEnd) {
  const std::unique_ptr<Tokenizer> tokenizer = MustBuild(SentencePieceJson());
  ASSERT_NE(tokenizer, nullptr);
  // 你 = E4 BD A0 in three byte tokens: held until a token of another kind ends the run.
  const std::vector<TokenId> ni = {ByteToken(0xE4), ByteToken(0xBD), ByteToken(0xA0)};
  std::vector<TokenId> ids = ni;
  ids.push_back(kBang);
  EXPECT_THAT(Stream(*tokenizer, true, {}, ids).pieces,
              ElementsAre("", "", "", "\xE4\xBD\xA0!", ""));
  // ... or until Finish.
  EXPECT_THAT(Stream(*tokenizer, true, {}, ni).pieces, ElementsAre("", "", "", "\xE4\xBD\xA0"));
  // Why a complete character still waits: one more invalid byte in the same run turns
  // the whole run into one U+FFFD per byte.
  ids = ni;
  ids.push_back(ByteToken(0xE4));
  ids.push_back(kSpaceWorld);
  EXPECT_THAT(Stream(*tokenizer, true, {}, ids).pieces,
              ElementsAre("", "", "", "", kFffd + kFffd + kFffd + kFffd + " world", ""));
  // A run that is ASCII-valid bytes only still decodes as one piece of text.
  EXPECT_THAT(
      Stream(*tokenizer, true, {}, std::vector<TokenId>{ByteToken('h'), ByteToken('i')}).pieces,
      ElementsAre("", "", "hi"));
}

TEST(DetokenizerTest, ByteFallbackRunAcrossThePromptBoundary) {
  const std::unique_ptr<Tokenizer> tokenizer = MustBuild(SentencePieceJson());
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<TokenId> prompt = {kBos, ByteToken(0xE4), ByteToken(0xBD), ByteToken(0xA0)};
  // The prompt's 你 was shown; a run continued validly is not shown twice ...
  EXPECT_THAT(Stream(*tokenizer, true, prompt,
                     std::vector<TokenId>{ByteToken(0xE5), ByteToken(0xA5), ByteToken(0xBD), kBang})
                  .pieces,
              ElementsAre("", "", "", "\xE5\xA5\xBD!", ""));
  // ... and one that turns invalid restarts where the full decode departs from it.
  EXPECT_THAT(Stream(*tokenizer, true, prompt, std::vector<TokenId>{ByteToken(0xE4), kBang}).pieces,
              ElementsAre("", kFffd + kFffd + kFffd + kFffd + "!", ""));
}

TEST(DetokenizerTest, BadIdsAreErrorsAndLeaveTheStreamAsItWas) {
  const std::unique_ptr<Tokenizer> tokenizer = MustBuild(SentencePieceJson());
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<TokenId> bad_prompt = {kBos, tokenizer->vocab_size()};
  EXPECT_EQ(Detokenizer::Create(*tokenizer, true, bad_prompt).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<Detokenizer> detokenizer = Detokenizer::Create(*tokenizer, true);
  ASSERT_TRUE(detokenizer.ok());
  EXPECT_EQ(detokenizer->Push(kSpaceHello).value(), "Hello");
  EXPECT_EQ(detokenizer->Push(-1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(detokenizer->Push(tokenizer->vocab_size()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(detokenizer->Push(kSpaceWorld).value(), " world");
  EXPECT_EQ(detokenizer->Finish().value(), "");
}

TEST(DetokenizerTest, NoDecoderJoinsWithSpaces) {
  json config = SentencePieceJson();
  config["decoder"] = nullptr;
  const std::unique_ptr<Tokenizer> tokenizer = MustBuild(config);
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<TokenId> ids = {kSpaceHello, kBos, kBang};
  EXPECT_THAT(Stream(*tokenizer, true, {}, ids).pieces,
              ElementsAre("\xE2\x96\x81Hello", "", " !", ""));
  CheckStream(*tokenizer, false, {}, ids);
  CheckStream(*tokenizer, false, std::vector<TokenId>{kBos}, ids);
}

TEST(DetokenizerTest, ChainWithoutIncrementalFormIsExactAtFinish) {
  json config = SentencePieceJson();
  // ByteFallback after Fuse only sees the one joined token: nothing is final before the
  // end, so everything comes at Finish, still exactly Decode().
  config["decoder"] = {{"type", "Sequence"},
                       {"decoders", {{{"type", "Fuse"}}, {{"type", "ByteFallback"}}}}};
  const std::unique_ptr<Tokenizer> tokenizer = MustBuild(config);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(Stream(*tokenizer, true, {}, std::vector<TokenId>{ByteToken(0x41)}).pieces,
              ElementsAre("", "A"));
  EXPECT_THAT(Stream(*tokenizer, true, {}, std::vector<TokenId>{kSpaceHello, kBang}).pieces,
              ElementsAre("", "", "\xE2\x96\x81Hello!"));
  EXPECT_THAT(
      Stream(*tokenizer, true, std::vector<TokenId>{kSpaceHello}, std::vector<TokenId>{kBang})
          .pieces,
      ElementsAre("", "!"));
}

TEST(DetokenizerTest, RandomStreamsOnHandMadeTokenizers) {
  std::mt19937 rng(7);
  for (const json& config : {ByteLevelJson(), SentencePieceJson()}) {
    const std::unique_ptr<Tokenizer> tokenizer = MustBuild(config);
    ASSERT_NE(tokenizer, nullptr);
    std::uniform_int_distribution<TokenId> id(0, tokenizer->vocab_size() - 1);
    std::uniform_int_distribution<int> length(0, 12);
    for (int i = 0; i < 2000; ++i) {
      std::vector<TokenId> prompt(rng() % 2 == 0 ? 0 : length(rng));
      for (TokenId& p : prompt) p = id(rng);
      std::vector<TokenId> ids(length(rng));
      for (TokenId& t : ids) t = id(rng);
      CheckStream(*tokenizer, rng() % 2 == 0, prompt, ids);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

// ---- Real tokenizers (fetched by scripts/setup.sh; missing ones fail). ----

const Tokenizer* Real(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>>* loaded =
      new std::map<std::string, std::unique_ptr<Tokenizer>>();
  auto it = loaded->find(name);
  if (it == loaded->end()) {
    const std::filesystem::path dir = std::filesystem::path(LOOM_DEPS_DIR) / "tokenizers" / name;
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(dir);
    EXPECT_TRUE(tokenizer.ok()) << tokenizer.status() << " (run scripts/setup.sh)";
    it = loaded->emplace(name, tokenizer.ok() ? *std::move(tokenizer) : nullptr).first;
  }
  return it->second.get();
}

class RealDetokenizerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RealDetokenizerTest, ScriptsAndEmojiSequencesStreamExactly) {
  const Tokenizer* tokenizer = Real(GetParam());
  ASSERT_NE(tokenizer, nullptr);
  const std::string texts[] = {
      "Hello, world! How are you today?",
      "你好，世界！我们今天去哪里？",                                     // CJK
      "日本語のテキストとカタカナ、한국어 문장도.",                       // kana, Hangul
      "family: \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D"  // 👨‍👩‍👧‍👦
                                                                          // (ZWJ)
      "\xF0\x9F\x91\xA7\xE2\x80\x8D\xF0\x9F\x91\xA6 done",
      "flags \xF0\x9F\x87\xAF\xF0\x9F\x87\xB5\xF0\x9F\x87\xBA\xF0\x9F\x87\xB8 and "  // 🇯🇵🇺🇸
      "\xF0\x9F\x8F\xB3\xEF\xB8\x8F\xE2\x80\x8D\xF0\x9F\x8C\x88",  // 🏳️‍🌈
      "  leading spaces, tabs\tand\nnew lines\n\n",
      "mixed 中文 English 123 \xF0\x9F\x98\x80 e\xCC\x81 "
      "\xE0\xB8\xA0\xE0\xB8\xB2\xE0\xB8\xA9\xE0\xB8\xB2",
  };
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    const std::vector<TokenId> ids = tokenizer->Encode(text, /*add_special_tokens=*/true).value();
    for (const bool skip : {true, false}) {
      CheckStream(*tokenizer, skip, {}, ids);
      // Split into a prompt and a continuation at every position.
      for (size_t cut = 0; cut <= ids.size(); ++cut) {
        CheckStream(*tokenizer, skip, std::span(ids).first(cut), std::span(ids).subspan(cut));
      }
    }
    // Streaming a text's own ids gives it back (up to the tokenizer's normalization).
    EXPECT_EQ(Stream(*tokenizer, true, {}, ids).text, tokenizer->Decode(ids, true).value());
  }
}

TEST_P(RealDetokenizerTest, RandomIdStreamsIncludingSpecialTokens) {
  const Tokenizer* tokenizer = Real(GetParam());
  ASSERT_NE(tokenizer, nullptr);
  std::mt19937 rng(20250101);
  const TokenId vocab = tokenizer->vocab_size();
  // Low ids hold Llama 2's byte tokens, the top ids the added and special tokens.
  std::uniform_int_distribution<TokenId> any(0, vocab - 1);
  std::uniform_int_distribution<TokenId> edge(0, 299);
  std::uniform_int_distribution<int> kind(0, 9);
  const auto random_id = [&] {
    const int k = kind(rng);
    if (k < 3) return edge(rng);
    if (k < 4) return vocab - 1 - edge(rng);
    return any(rng);
  };
  std::uniform_int_distribution<int> length(0, 40);
  for (int i = 0; i < 1500; ++i) {
    std::vector<TokenId> prompt(i % 2 == 0 ? 0 : length(rng) / 4);
    for (TokenId& id : prompt) id = random_id();
    std::vector<TokenId> ids(length(rng));
    for (TokenId& id : ids) id = random_id();
    CheckStream(*tokenizer, i % 4 < 2, prompt, ids);
    if (HasFatalFailure()) return;
  }
}

TEST_P(RealDetokenizerTest, LongStreamIsLinear) {
  // 60,000 tokens: a detokenizer that re-decoded its history would do ~1.8e9 token
  // decodes here and run into the test timeout.
  const Tokenizer* tokenizer = Real(GetParam());
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<TokenId> unit =
      tokenizer->Encode("Streaming \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80 text, ", false)
          .value();
  std::vector<TokenId> ids;
  while (ids.size() < 60000) ids.insert(ids.end(), unit.begin(), unit.end());
  const Streamed streamed = Stream(*tokenizer, true, {}, ids);
  EXPECT_EQ(streamed.text, tokenizer->Decode(ids, true).value());
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, RealDetokenizerTest,
                         ::testing::Values("llama2", "llama3", "qwen3", "deepseek_v3"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return param.param;
                         });

TEST(DetokenizerTest, Llama2WordAfterAPromptKeepsItsSpace) {
  const Tokenizer* tokenizer = Real("llama2");
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<TokenId> prompt = tokenizer->Encode("Hello", true).value();
  ASSERT_THAT(prompt, ElementsAre(1, 22557));  // <s> ▁Hello
  const std::vector<TokenId> world = {1526};   // ▁world
  EXPECT_THAT(Stream(*tokenizer, true, prompt, world).pieces, ElementsAre(" world", ""));
  EXPECT_THAT(Stream(*tokenizer, true, {}, world).pieces, ElementsAre("world", ""));
}

}  // namespace
}  // namespace loom
