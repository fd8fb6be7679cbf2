#include "engine/text/bpe_model.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<std::unique_ptr<BpeModel>> Build(const json& config) {
  return BpeModel::FromJson(config, JsonLocation("t.json", "model"));
}

std::unique_ptr<BpeModel> MustBuild(const json& config) {
  absl::StatusOr<std::unique_ptr<BpeModel>> model = Build(config);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : nullptr;
}

std::vector<TokenId> Tokenize(const BpeModel& model, std::string_view word) {
  std::vector<TokenId> ids;
  const absl::Status status = model.Tokenize(word, &ids);
  EXPECT_TRUE(status.ok()) << status;
  return ids;
}

const json kVocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}, {"aa", 6}};

TEST(BpeModelTest, LowestRankMergesFirst) {
  // "b c" outranks "a b", so "abc" becomes a + bc and then abc.
  auto bc_first =
      MustBuild({{"type", "BPE"}, {"vocab", kVocab}, {"merges", {"b c", "a b", "a bc"}}});
  ASSERT_NE(bc_first, nullptr);
  EXPECT_THAT(Tokenize(*bc_first, "abc"), ElementsAre(5));
  EXPECT_THAT(Tokenize(*bc_first, "abcab"), ElementsAre(5, 3));
  // With "a b" first the word becomes ab + c, and no merge joins those.
  auto ab_first =
      MustBuild({{"type", "BPE"}, {"vocab", kVocab}, {"merges", {"a b", "b c", "a bc"}}});
  ASSERT_NE(ab_first, nullptr);
  EXPECT_THAT(Tokenize(*ab_first, "abc"), ElementsAre(3, 2));
}

TEST(BpeModelTest, EqualRanksMergeLeftmostFirst) {
  auto model = MustBuild({{"vocab", kVocab}, {"merges", json::array({json::array({"a", "a"})})}});
  ASSERT_NE(model, nullptr);
  EXPECT_THAT(Tokenize(*model, "aaa"), ElementsAre(6, 0));
  EXPECT_THAT(Tokenize(*model, "aaaa"), ElementsAre(6, 6));
}

TEST(BpeModelTest, IgnoreMergesEmitsWholeVocabularyWords) {
  // No merge produces "abc", but with ignore_merges the word is in the vocabulary.
  json config = {{"vocab", kVocab}, {"merges", {"a b"}}, {"ignore_merges", true}};
  EXPECT_THAT(Tokenize(*MustBuild(config), "abc"), ElementsAre(5));
  config["ignore_merges"] = false;
  EXPECT_THAT(Tokenize(*MustBuild(config), "abc"), ElementsAre(3, 2));
}

TEST(BpeModelTest, UnknownCharactersUseUnkAndFuse) {
  json config = {
      {"vocab", {{"<unk>", 0}, {"a", 1}}}, {"merges", json::array()}, {"unk_token", "<unk>"}};
  EXPECT_THAT(Tokenize(*MustBuild(config), "axxa"), ElementsAre(1, 0, 0, 1));
  config["fuse_unk"] = true;
  EXPECT_THAT(Tokenize(*MustBuild(config), "axxa"), ElementsAre(1, 0, 1));
  config["unk_token"] = nullptr;  // no unk token: unknown characters are dropped
  EXPECT_THAT(Tokenize(*MustBuild(config), "axxa"), ElementsAre(1, 1));
}

TEST(BpeModelTest, UnkTokenMissingFromVocabularyIsAnErrorWhenNeeded) {
  auto model = MustBuild({{"vocab", {{"a", 0}}}, {"merges", json::array()}, {"unk_token", "?"}});
  std::vector<TokenId> ids;
  EXPECT_TRUE(model->Tokenize("aa", &ids).ok());
  const absl::Status status = model->Tokenize("ab", &ids);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("unk_token \"?\""));
}

TEST(BpeModelTest, ByteFallbackSpellsUnknownCharactersAsBytes) {
  json vocab = {{"<unk>", 0}, {"a", 1}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = 2 + b;
  }
  auto model = MustBuild({{"vocab", vocab},
                          {"merges", json::array()},
                          {"unk_token", "<unk>"},
                          {"byte_fallback", true}});
  // é is C3 A9.
  EXPECT_THAT(Tokenize(*model, "a\xC3\xA9"), ElementsAre(1, 2 + 0xC3, 2 + 0xA9));
}

TEST(BpeModelTest, SubwordPrefixAndSuffix) {
  const json vocab = {{"a", 0}, {"##b", 1}, {"##c</w>", 2}, {"a##b", 3}, {"ab", 4}};
  auto model = MustBuild({{"vocab", vocab},
                          {"merges", {"a ##b"}},
                          {"continuing_subword_prefix", "##"},
                          {"end_of_word_suffix", "</w>"}});
  ASSERT_NE(model, nullptr);
  // The merge "a ##b" produces "ab" (the prefix of the right part is dropped).
  EXPECT_THAT(Tokenize(*model, "abc"), ElementsAre(4, 2));
}

TEST(BpeModelTest, EmptyPrefixAndSuffixAreNoOps) {
  auto model = MustBuild({{"vocab", kVocab},
                          {"merges", {"a b"}},
                          {"continuing_subword_prefix", ""},
                          {"end_of_word_suffix", ""}});
  EXPECT_THAT(Tokenize(*model, "abc"), ElementsAre(3, 2));
}

TEST(BpeModelTest, LookupsAndIdLimit) {
  auto model = MustBuild({{"vocab", {{"x", 0}, {"y", 4}}}, {"merges", json::array()}});
  EXPECT_EQ(model->id_limit(), 5);
  EXPECT_EQ(model->TokenToId("y"), 4);
  EXPECT_EQ(model->TokenToId("z"), std::nullopt);
  ASSERT_NE(model->IdToToken(0), nullptr);
  EXPECT_EQ(*model->IdToToken(0), "x");
  EXPECT_EQ(model->IdToToken(2), nullptr);  // a hole
  EXPECT_EQ(model->IdToToken(5), nullptr);
}

TEST(BpeModelTest, LongWordsStayFast) {
  // One 200k-character word: the priority-queue merge is O(n log n).
  auto model = MustBuild({{"vocab", kVocab}, {"merges", {"a a"}}});
  const std::vector<TokenId> ids = Tokenize(*model, std::string(200000, 'a'));
  EXPECT_EQ(ids.size(), 100000u);
}

TEST(BpeModelTest, ErrorsNameTheKey) {
  const auto message = [](const json& config) {
    absl::StatusOr<std::unique_ptr<BpeModel>> model = Build(config);
    EXPECT_FALSE(model.ok());
    return model.ok() ? std::string() : std::string(model.status().message());
  };
  EXPECT_THAT(message({{"type", "WordPiece"}, {"vocab", kVocab}}),
              HasSubstr("t.json: model.type: unsupported model type \"WordPiece\""));
  EXPECT_THAT(message({{"type", "BPE"}, {"merges", json::array()}}),
              HasSubstr("t.json: model.vocab: missing required key"));
  EXPECT_THAT(message({{"vocab", kVocab}}), HasSubstr("model.merges: missing required key"));
  EXPECT_THAT(message({{"vocab", kVocab}, {"merges", {"a b", "a q"}}}),
              HasSubstr("model.merges[1]: token \"q\" is not in the vocabulary"));
  EXPECT_THAT(message({{"vocab", kVocab}, {"merges", {"b a"}}}),
              HasSubstr("model.merges[0]: merged token \"ba\" is not in the vocabulary"));
  EXPECT_THAT(message({{"vocab", kVocab}, {"merges", {"a b c"}}}), HasSubstr("model.merges[0]"));
  EXPECT_THAT(message({{"vocab", {{"a", "zero"}}}, {"merges", json::array()}}),
              HasSubstr("model.vocab.a: expected a token id"));
  EXPECT_THAT(message({{"vocab", kVocab}, {"merges", json::array()}, {"dropout", 0.1}}),
              HasSubstr("model.dropout"));
}

}  // namespace
}  // namespace loom::text
