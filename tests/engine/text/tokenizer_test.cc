// Tokenizer end to end on small hand-made tokenizer.json files: the pipeline order,
// special-token handling, configuration, and the errors for bad input and bad files.

#include "engine/text/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
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
using ::testing::HasSubstr;

constexpr TokenId kHi = 256;
constexpr TokenId kSpaceThe = 259;
constexpr TokenId kBos = 300;
constexpr TokenId kEos = 301;
constexpr TokenId kTool = 302;

std::string ByteLevelOf(std::string_view text) {
  std::string out;
  text::AppendByteLevel(text, &out);
  return out;
}

// A byte-level BPE tokenizer: ids 0..255 are the bytes, plus "hi" and " the" merges and
// three added tokens.
json TinyTokenizerJson() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[ByteLevelOf(std::string(1, static_cast<char>(b)))] = b;
  vocab["hi"] = kHi;
  vocab[ByteLevelOf(" t")] = 257;
  vocab[ByteLevelOf(" th")] = 258;
  vocab[ByteLevelOf(" the")] = kSpaceThe;
  return {
      {"version", "1.0"},
      {"added_tokens",
       {{{"id", kBos}, {"content", "<|bos|>"}, {"special", true}, {"normalized", false}},
        {{"id", kEos}, {"content", "<|eos|>"}, {"special", true}, {"normalized", false}},
        {{"id", kTool}, {"content", "<tool>"}, {"special", false}, {"normalized", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<|bos|>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens",
         {{"<|bos|>", {{"id", "<|bos|>"}, {"ids", {kBos}}, {"tokens", {"<|bos|>"}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"vocab", vocab},
        {"merges",
         {"h i", ByteLevelOf(" ") + " t", ByteLevelOf(" t") + " h", ByteLevelOf(" th") + " e"}}}}};
}

std::unique_ptr<Tokenizer> MustBuild(const json& tokenizer, const json& config = nullptr) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> built =
      Tokenizer::FromJson(tokenizer.dump(), config.is_null() ? "" : config.dump(), "mem");
  EXPECT_TRUE(built.ok()) << built.status();
  return built.ok() ? *std::move(built) : nullptr;
}

std::string BuildError(std::string_view tokenizer, std::string_view config = "") {
  absl::StatusOr<std::unique_ptr<Tokenizer>> built = Tokenizer::FromJson(tokenizer, config, "src");
  EXPECT_FALSE(built.ok());
  if (built.ok()) return "";
  EXPECT_EQ(built.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(built.status().message());
}

TEST(TokenizerTest, EncodesThroughThePipeline) {
  const auto tokenizer = MustBuild(TinyTokenizerJson());
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(tokenizer->Encode("hi the", false).value(), ElementsAre(kHi, kSpaceThe));
  EXPECT_THAT(tokenizer->Encode("hi the", true).value(), ElementsAre(kBos, kHi, kSpaceThe));
  EXPECT_THAT(tokenizer->Encode("", true).value(), ElementsAre(kBos));
  // Bytes without merges stay single bytes: "é" is C3 A9.
  EXPECT_THAT(tokenizer->Encode("\xC3\xA9!", false).value(), ElementsAre(0xC3, 0xA9, '!'));
}

TEST(TokenizerTest, AddedTokensAreMatchedBeforePreTokenization) {
  const auto tokenizer = MustBuild(TinyTokenizerJson());
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(tokenizer->Encode("<|bos|>hi<tool> the<|eos|>", false).value(),
              ElementsAre(kBos, kHi, kTool, kSpaceThe, kEos));
}

TEST(TokenizerTest, DecodesAndSkipsOnlySpecialTokens) {
  const auto tokenizer = MustBuild(TinyTokenizerJson());
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<TokenId> ids = {kBos, kHi, kTool, kSpaceThe, 0xC3, 0xA9, kEos};
  EXPECT_EQ(tokenizer->Decode(ids, false).value(), "<|bos|>hi<tool> the\xC3\xA9<|eos|>");
  EXPECT_EQ(tokenizer->Decode(ids, true).value(), "hi<tool> the\xC3\xA9");
  // Half of a UTF-8 sequence decodes to U+FFFD.
  const std::vector<TokenId> half = {kHi, 0xC3};
  EXPECT_EQ(tokenizer->Decode(half, false).value(),
            "hi" + std::string(text::kReplacementCharacter));
}

TEST(TokenizerTest, RejectsInvalidUtf8Input) {
  const auto tokenizer = MustBuild(TinyTokenizerJson());
  ASSERT_NE(tokenizer, nullptr);
  absl::StatusOr<std::vector<TokenId>> ids = tokenizer->Encode("ok\xC3(", false);
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ids.status().message()), HasSubstr("UTF-8"));
  EXPECT_THAT(std::string(ids.status().message()), HasSubstr("offset 2"));
}

TEST(TokenizerTest, DecodeRejectsOutOfRangeIds) {
  const auto tokenizer = MustBuild(TinyTokenizerJson());
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->vocab_size(), 303);
  for (const TokenId bad : {-1, 303, 1 << 30}) {
    const std::vector<TokenId> ids = {kHi, bad};
    absl::StatusOr<std::string> text = tokenizer->Decode(ids, false);
    ASSERT_FALSE(text.ok());
    EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(text.status().message()), HasSubstr("token id " + std::to_string(bad)));
  }
}

TEST(TokenizerTest, Lookups) {
  const auto tokenizer = MustBuild(TinyTokenizerJson());
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->TokenToId("<tool>"), kTool);
  EXPECT_EQ(tokenizer->TokenToId("hi"), kHi);
  EXPECT_EQ(tokenizer->TokenToId("nope"), std::nullopt);
  EXPECT_EQ(tokenizer->IdToToken(kSpaceThe), ByteLevelOf(" the"));
  EXPECT_EQ(tokenizer->IdToToken(kEos), "<|eos|>");
  EXPECT_EQ(tokenizer->IdToToken(280), std::nullopt);  // a hole in the ids
  EXPECT_TRUE(tokenizer->IsSpecial(kBos));
  EXPECT_FALSE(tokenizer->IsSpecial(kTool));
  EXPECT_FALSE(tokenizer->IsSpecial(kHi));
  EXPECT_EQ(tokenizer->bos_token_id(), std::nullopt);  // no tokenizer_config.json
}

TEST(TokenizerTest, ConfigBosIsNotAddedTwice) {
  const json config = {{"bos_token", "<|bos|>"},
                       {"eos_token", {{"content", "<|eos|>"}, {"__type", "AddedToken"}}},
                       {"add_bos_token", true}};
  const auto tokenizer = MustBuild(TinyTokenizerJson(), config);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->bos_token_id(), kBos);
  EXPECT_EQ(tokenizer->eos_token_id(), kEos);
  EXPECT_THAT(tokenizer->Encode("hi", true).value(), ElementsAre(kBos, kHi));
}

TEST(TokenizerTest, ConfigAddsBosAndEosWithoutAPostProcessor) {
  json tokenizer_json = TinyTokenizerJson();
  tokenizer_json["post_processor"] = nullptr;
  const json config = {{"bos_token", "<|bos|>"},
                       {"eos_token", "<|eos|>"},
                       {"add_bos_token", true},
                       {"add_eos_token", true}};
  const auto tokenizer = MustBuild(tokenizer_json, config);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(tokenizer->Encode("hi", true).value(), ElementsAre(kBos, kHi, kEos));
  EXPECT_THAT(tokenizer->Encode("hi", false).value(), ElementsAre(kHi));
  const auto plain = MustBuild(tokenizer_json, {{"bos_token", "<|bos|>"}});
  ASSERT_NE(plain, nullptr);
  EXPECT_THAT(plain->Encode("hi", true).value(), ElementsAre(kHi));
}

TEST(TokenizerTest, NormalizedAddedTokensMatchAfterNormalization) {
  json tokenizer_json = TinyTokenizerJson();
  tokenizer_json["normalizer"] = {{"type", "Lowercase"}};
  tokenizer_json["added_tokens"].push_back(
      {{"id", 303}, {"content", "<Call>"}, {"special", false}, {"normalized", true}});
  const auto tokenizer = MustBuild(tokenizer_json);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(tokenizer->Encode("HI<CALL>", false).value(), ElementsAre(kHi, 303));
  EXPECT_EQ(tokenizer->vocab_size(), 304);
}

TEST(TokenizerTest, WithoutDecoderTokensAreJoinedWithSpaces) {
  json tokenizer_json = TinyTokenizerJson();
  tokenizer_json["decoder"] = nullptr;
  const auto tokenizer = MustBuild(tokenizer_json);
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<TokenId> ids = {kHi, kTool};
  EXPECT_EQ(tokenizer->Decode(ids, false).value(), "hi <tool>");
}

TEST(TokenizerTest, MalformedFilesNameTheFileAndKey) {
  EXPECT_THAT(BuildError("{\"model\": "), HasSubstr("src/tokenizer.json: not valid JSON"));
  EXPECT_THAT(BuildError("[]"), HasSubstr("src/tokenizer.json: expected an object"));
  EXPECT_THAT(BuildError("{}"), HasSubstr("src/tokenizer.json: model: missing required key"));

  json word_piece = TinyTokenizerJson();
  word_piece["model"]["type"] = "WordPiece";
  EXPECT_THAT(BuildError(word_piece.dump()),
              HasSubstr("src/tokenizer.json: model.type: unsupported model type \"WordPiece\""));

  json no_vocab = TinyTokenizerJson();
  no_vocab["model"].erase("vocab");
  EXPECT_THAT(BuildError(no_vocab.dump()),
              HasSubstr("src/tokenizer.json: model.vocab: missing required key"));

  json bad_pre = TinyTokenizerJson();
  bad_pre["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  EXPECT_THAT(BuildError(bad_pre.dump()),
              HasSubstr("src/tokenizer.json: pre_tokenizer.type: unsupported pre-tokenizer"));

  json bad_normalizer = TinyTokenizerJson();
  bad_normalizer["normalizer"] = {{"type", "NFC"}, {"extra", 1}};
  bad_normalizer["normalizer"]["type"] = 7;
  EXPECT_THAT(BuildError(bad_normalizer.dump()),
              HasSubstr("src/tokenizer.json: normalizer.type: expected a string"));

  json bad_template = TinyTokenizerJson();
  bad_template["post_processor"]["special_tokens"]["<|bos|>"]["ids"] = {5000};
  EXPECT_THAT(BuildError(bad_template.dump()),
              HasSubstr("post_processor: special token id 5000 is not in the vocabulary"));

  const std::string good = TinyTokenizerJson().dump();
  EXPECT_THAT(BuildError(good, "{oops"), HasSubstr("src/tokenizer_config.json: not valid JSON"));
  EXPECT_THAT(BuildError(good, R"({"bos_token": "<missing>"})"),
              HasSubstr("src/tokenizer_config.json: bos_token: token \"<missing>\" is not in "
                        "the vocabulary"));
  EXPECT_THAT(BuildError(good, R"({"add_bos_token": "yes"})"),
              HasSubstr("src/tokenizer_config.json: add_bos_token: expected a boolean"));
}

TEST(TokenizerTest, LoadReadsBothFilesFromADirectory) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "loom_tokenizer_test_load";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << TinyTokenizerJson().dump();
  std::ofstream(dir / "tokenizer_config.json") << R"({"eos_token": "<|eos|>"})";
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->eos_token_id(), kEos);

  std::filesystem::remove(dir / "tokenizer_config.json");
  tokenizer = Tokenizer::Load(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->eos_token_id(), std::nullopt);

  std::ofstream(dir / "tokenizer.json") << "{\"model\": {\"type\": \"Unigram\"}}";
  tokenizer = Tokenizer::Load(dir);
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_THAT(std::string(tokenizer.status().message()),
              HasSubstr((dir / "tokenizer.json").string() + ": model.type"));
  std::filesystem::remove_all(dir);
}

TEST(TokenizerTest, LoadFromMissingDirectoryIsNotFound) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::Load("/nonexistent/loom/tokenizer");
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(tokenizer.status().message()),
              HasSubstr("/nonexistent/loom/tokenizer/tokenizer.json"));
}

TEST(TokenizerTest, ConcurrentEncodesAgree) {
  const auto tokenizer = MustBuild(TinyTokenizerJson());
  ASSERT_NE(tokenizer, nullptr);
  const std::string text = "<|bos|>hi the hi<tool> the \xC3\xA9";
  const std::vector<TokenId> expected = tokenizer->Encode(text, true).value();
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        absl::StatusOr<std::vector<TokenId>> ids = tokenizer->Encode(text, true);
        if (!ids.ok() || *ids != expected) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(mismatches, ElementsAre(0, 0, 0, 0));
}

}  // namespace
}  // namespace loom
