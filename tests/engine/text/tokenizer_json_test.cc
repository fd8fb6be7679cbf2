#include "engine/text/tokenizer_json.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace loom::text {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

absl::StatusOr<TokenizerJson> Parse(std::string_view text) {
  return ParseTokenizerJson(text, JsonLocation("d/tokenizer.json"));
}

std::string ErrorOf(std::string_view text) {
  absl::StatusOr<TokenizerJson> parsed = Parse(text);
  EXPECT_FALSE(parsed.ok());
  return parsed.ok() ? "" : std::string(parsed.status().message());
}

TEST(TokenizerJsonTest, CapturesVocabAndMergesAndKeepsTheRest) {
  absl::StatusOr<TokenizerJson> parsed = Parse(R"({
      "version": "1.0",
      "added_tokens": [{"id": 3, "content": "<s>"}],
      "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
                "merges": ["a b", ["b", "a"]], "unk_token": null,
                "nested": {"vocab": [1, 2]}},
      "decoder": {"type": "ByteLevel", "vocab": "not the model's"}})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(parsed->tables.vocab.has_value());
  EXPECT_THAT(*parsed->tables.vocab, ElementsAre(Pair("a", 0), Pair("b", 1), Pair("ab", 2)));
  ASSERT_TRUE(parsed->tables.merges.has_value());
  ASSERT_EQ(parsed->tables.merges->size(), 2u);
  EXPECT_EQ((*parsed->tables.merges)[0].left, "a");
  EXPECT_EQ((*parsed->tables.merges)[0].right, "b");
  EXPECT_EQ((*parsed->tables.merges)[1].left, "b");
  EXPECT_EQ((*parsed->tables.merges)[1].right, "a");

  const nlohmann::json& document = parsed->document;
  EXPECT_FALSE(document["model"].contains("vocab"));
  EXPECT_FALSE(document["model"].contains("merges"));
  EXPECT_EQ(document["model"]["type"], "BPE");
  EXPECT_TRUE(document["model"]["unk_token"].is_null());
  EXPECT_EQ(document["model"]["nested"]["vocab"], nlohmann::json::array({1, 2}));
  EXPECT_EQ(document["decoder"]["vocab"], "not the model's");
  EXPECT_EQ(document["added_tokens"][0]["content"], "<s>");
  EXPECT_EQ(document["version"], "1.0");
}

TEST(TokenizerJsonTest, ValuesOfTheWrongTypeStayInTheDocument) {
  absl::StatusOr<TokenizerJson> parsed = Parse(R"({"model": {"vocab": [1], "merges": {}}})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->tables.vocab.has_value());
  EXPECT_FALSE(parsed->tables.merges.has_value());
  EXPECT_EQ(parsed->document["model"]["vocab"], nlohmann::json::array({1}));
  EXPECT_TRUE(parsed->document["model"]["merges"].is_object());
}

TEST(TokenizerJsonTest, MalformedEntriesNameTheirKey) {
  EXPECT_THAT(ErrorOf(R"({"model": {"vocab": {"a": 0, "b": "one"}}})"),
              HasSubstr("d/tokenizer.json: model.vocab.b: expected a token id, got a string"));
  EXPECT_THAT(ErrorOf(R"({"model": {"vocab": {"a": -4}}})"),
              HasSubstr("model.vocab.a: token id -4 is out of range"));
  EXPECT_THAT(ErrorOf(R"({"model": {"vocab": {"a": 1.5}}})"),
              HasSubstr("model.vocab.a: expected a token id, got a number"));
  EXPECT_THAT(ErrorOf(R"({"model": {"merges": ["a b", "a b c"]}})"),
              HasSubstr("model.merges[1]: expected \"left right\" with one space, got \"a b c\""));
  EXPECT_THAT(ErrorOf(R"({"model": {"merges": [["a", "b", "c"]]}})"), HasSubstr("model.merges[0]"));
  EXPECT_THAT(ErrorOf(R"({"model": {"merges": ["a b", 7]}})"), HasSubstr("model.merges[1]"));
}

TEST(TokenizerJsonTest, InvalidJsonNamesTheOffset) {
  EXPECT_THAT(ErrorOf(R"({"model": {"vocab": {"a": 0,}}})"),
              HasSubstr("d/tokenizer.json: not valid JSON (at byte"));
  EXPECT_THAT(ErrorOf(""), HasSubstr("not valid JSON"));
  EXPECT_THAT(ErrorOf("{} trailing"), HasSubstr("not valid JSON"));
}

TEST(TokenizerJsonTest, NonObjectDocumentsParse) {
  absl::StatusOr<TokenizerJson> parsed = Parse("[1, \"two\"]");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->document, nlohmann::json::parse("[1, \"two\"]"));
}

}  // namespace
}  // namespace loom::text
