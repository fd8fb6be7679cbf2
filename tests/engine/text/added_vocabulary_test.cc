#include "engine/text/added_vocabulary.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using ::testing::ElementsAre;
using Piece = std::pair<std::string, TokenId>;  // id -1: plain text

AddedToken Token(TokenId id, std::string content) {
  AddedToken token;
  token.id = id;
  token.content = std::move(content);
  token.normalized = false;
  return token;
}

AddedVocabulary Make(std::vector<AddedToken> tokens, const Normalizer* normalizer = nullptr,
                     AddedVocabulary::Options options = {}) {
  absl::StatusOr<AddedVocabulary> vocabulary =
      AddedVocabulary::Create(std::move(tokens), normalizer, options);
  EXPECT_TRUE(vocabulary.ok()) << vocabulary.status();
  return *std::move(vocabulary);
}

std::vector<Piece> Split(const AddedVocabulary& vocabulary, std::string_view text,
                         bool normalized = false) {
  std::vector<TextSegment> segments;
  vocabulary.Split(text, normalized, &segments);
  std::vector<Piece> pieces;
  for (const TextSegment& s : segments) pieces.emplace_back(std::string(s.text), s.id.value_or(-1));
  return pieces;
}

TEST(AddedVocabularyTest, LeftmostLongestMatches) {
  const AddedVocabulary vocabulary =
      Make({Token(10, "<|a|>"), Token(11, "<|a|><|b|>"), Token(12, "<|b|>"), Token(13, "b|>x")});
  EXPECT_THAT(Split(vocabulary, "x<|a|><|b|>y<|b|>xz"),
              ElementsAre(Piece{"x", -1}, Piece{"<|a|><|b|>", 11}, Piece{"y", -1},
                          Piece{"<|b|>", 12}, Piece{"xz", -1}));
  EXPECT_THAT(Split(vocabulary, "no tokens"), ElementsAre(Piece{"no tokens", -1}));
  EXPECT_THAT(Split(vocabulary, ""), ElementsAre());
}

TEST(AddedVocabularyTest, LstripAndRstripSwallowWhitespace) {
  AddedToken mask = Token(5, "<mask>");
  mask.lstrip = true;
  AddedToken end = Token(6, "</s>");
  end.rstrip = true;
  const AddedVocabulary vocabulary = Make({mask, end});
  EXPECT_THAT(Split(vocabulary, "a \t<mask> b</s>  \n c"),
              ElementsAre(Piece{"a", -1}, Piece{" \t<mask>", 5}, Piece{" b", -1},
                          Piece{"</s>  \n ", 6}, Piece{"c", -1}));
  // lstrip never reaches back into a previous match.
  EXPECT_THAT(Split(vocabulary, "</s> <mask>"), ElementsAre(Piece{"</s> ", 6}, Piece{"<mask>", 5}));
}

TEST(AddedVocabularyTest, SingleWordOnlyMatchesWholeWords) {
  AddedToken word = Token(7, "yes");
  word.single_word = true;
  const AddedVocabulary vocabulary = Make({word});
  EXPECT_THAT(Split(vocabulary, "yes, eyes yesterday yes"),
              ElementsAre(Piece{"yes", 7}, Piece{", eyes yesterday ", -1}, Piece{"yes", 7}));
  // Non-ASCII letters count as word characters.
  EXPECT_THAT(Split(vocabulary, "\xC3\xA9yes"), ElementsAre(Piece{"\xC3\xA9yes", -1}));
}

TEST(AddedVocabularyTest, NormalizedTokensMatchOnlyInNormalizedText) {
  AddedToken raw = Token(1, "<raw>");
  AddedToken normalized = Token(2, "<norm>");
  normalized.normalized = true;
  const AddedVocabulary vocabulary = Make({raw, normalized});
  EXPECT_THAT(Split(vocabulary, "<raw><norm>"),
              ElementsAre(Piece{"<raw>", 1}, Piece{"<norm>", -1}));
  EXPECT_THAT(Split(vocabulary, "<raw><norm>", /*normalized=*/true),
              ElementsAre(Piece{"<raw>", -1}, Piece{"<norm>", 2}));
}

TEST(AddedVocabularyTest, SplitSpecialTokensLeavesSpecialTokensAsText) {
  AddedToken special = Token(3, "<|endoftext|>");
  special.special = true;
  const AddedVocabulary vocabulary =
      Make({special, Token(4, "<plain>")}, nullptr, {.split_special_tokens = true});
  EXPECT_THAT(Split(vocabulary, "<|endoftext|><plain>"),
              ElementsAre(Piece{"<|endoftext|>", -1}, Piece{"<plain>", 4}));
}

TEST(AddedVocabularyTest, LookupsAndIdLimit) {
  const AddedVocabulary vocabulary = Make({Token(100, "<a>"), Token(7, "<b>"), Token(8, "")});
  EXPECT_EQ(vocabulary.id_limit(), 101);
  ASSERT_NE(vocabulary.FindById(7), nullptr);
  EXPECT_EQ(vocabulary.FindById(7)->content, "<b>");
  EXPECT_EQ(vocabulary.FindById(8), nullptr);  // empty contents are ignored
  ASSERT_NE(vocabulary.FindByContent("<a>"), nullptr);
  EXPECT_EQ(vocabulary.FindByContent("<a>")->id, 100);
}

TEST(AddedVocabularyTest, ParsesJsonWithDefaults) {
  const nlohmann::json list = nlohmann::json::parse(R"([
      {"id": 1, "content": "<s>", "special": true},
      {"id": 2, "content": "hi", "lstrip": true, "rstrip": true, "single_word": true}])");
  absl::StatusOr<std::vector<AddedToken>> tokens =
      AddedTokensFromJson(list, JsonLocation("t.json", "added_tokens"));
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  ASSERT_EQ(tokens->size(), 2u);
  EXPECT_TRUE((*tokens)[0].special);
  EXPECT_FALSE((*tokens)[0].normalized);  // special tokens default to not normalized
  EXPECT_TRUE((*tokens)[1].normalized);
  EXPECT_TRUE((*tokens)[1].lstrip && (*tokens)[1].rstrip && (*tokens)[1].single_word);

  absl::StatusOr<std::vector<AddedToken>> bad = AddedTokensFromJson(
      nlohmann::json::parse(R"([{"id": 1}])"), JsonLocation("t.json", "added_tokens"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              ::testing::HasSubstr("added_tokens[0].content: missing required key"));
}

}  // namespace
}  // namespace loom::text
