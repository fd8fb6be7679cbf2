#include "engine/text/pre_tokenizer.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using ::testing::ElementsAre;

// The pieces of `text`; `at_input_start` says whether `text` begins the input.
std::vector<std::string> PreTokenize(std::string_view config, std::string text,
                                     bool at_input_start = true) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre =
      PreTokenizerFromJson(nlohmann::json::parse(config), JsonLocation("t.json", "pre_tokenizer"));
  EXPECT_TRUE(pre.ok()) << pre.status();
  if (!pre.ok()) return {};
  std::vector<std::string> pieces = {std::move(text)};
  const absl::Status status = (*pre)->PreTokenize(&pieces, &at_input_start);
  EXPECT_TRUE(status.ok()) << status;
  return pieces;
}

// "▁" (U+2581), SentencePiece's space.
const std::string kMeta = "\xE2\x96\x81";

TEST(PreTokenizerTest, ByteLevelWithRegexAndPrefixSpace) {
  EXPECT_THAT(PreTokenize(R"({"type": "ByteLevel", "add_prefix_space": true, "use_regex": true})",
                          "Hello world\n"),
              ElementsAre("\xC4\xA0Hello", "\xC4\xA0world", "\xC4\x8A"));  // ĠHello Ġworld Ċ
}

TEST(PreTokenizerTest, ByteLevelWithoutRegexOnlyMapsBytes) {
  EXPECT_THAT(PreTokenize(R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": false})",
                          "a b\xC3\xA9"),
              ElementsAre("a\xC4\xA0"
                          "b\xC3\x83\xC2\xA9"));  // aĠbÃ©
}

TEST(PreTokenizerTest, SplitThenByteLevelSequence) {
  EXPECT_THAT(PreTokenize(R"({"type": "Sequence", "pretokenizers": [
                        {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"},
                         "behavior": "Isolated", "invert": false},
                        {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]})",
                          "x12345 y"),
              ElementsAre("x", "123", "45", "\xC4\xA0y"));
}

TEST(PreTokenizerTest, SplitRemovedWithStringPattern) {
  EXPECT_THAT(
      PreTokenize(R"({"type": "Split", "pattern": {"String": ", "}, "behavior": "Removed"})",
                  "a, b, , c"),
      ElementsAre("a", "b", "c"));
}

// Expected pieces in these tests are those of Hugging Face tokenizers 0.23.

TEST(PreTokenizerTest, MetaspaceAlwaysSplits) {
  constexpr std::string_view kConfig =
      R"({"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always"})";
  EXPECT_THAT(PreTokenize(kConfig, "Hey   friend!"),
              ElementsAre(kMeta + "Hey", kMeta, kMeta, kMeta + "friend!"));
  // "always" prepends to any piece, also one that does not start the input.
  EXPECT_THAT(PreTokenize(kConfig, "Hey", /*at_input_start=*/false), ElementsAre(kMeta + "Hey"));
}

TEST(PreTokenizerTest, MetaspaceFirstWithoutSplit) {
  constexpr std::string_view kConfig = R"({"type": "Metaspace", "replacement": "\u2581",
      "prepend_scheme": "first", "split": false})";
  EXPECT_THAT(PreTokenize(kConfig, "Hey my friend"),
              ElementsAre(kMeta + "Hey" + kMeta + "my" + kMeta + "friend"));
  EXPECT_THAT(PreTokenize(kConfig, "Hey my", /*at_input_start=*/false),
              ElementsAre("Hey" + kMeta + "my"));
  // A leading space already is the replacement: no second one.
  EXPECT_THAT(PreTokenize(kConfig, " Hey"), ElementsAre(kMeta + "Hey"));
}

TEST(PreTokenizerTest, MetaspaceNeverAndLegacyAddPrefixSpace) {
  EXPECT_THAT(PreTokenize(R"({"type": "Metaspace", "replacement": "\u2581",
                              "prepend_scheme": "never"})",
                          "Hey friend"),
              ElementsAre("Hey", kMeta + "friend"));
  EXPECT_THAT(
      PreTokenize(R"({"type": "Metaspace", "replacement": "_", "add_prefix_space": true})", "a b"),
      ElementsAre("_a", "_b"));
  EXPECT_THAT(
      PreTokenize(R"({"type": "Metaspace", "replacement": "_", "add_prefix_space": false})", "a b"),
      ElementsAre("a", "_b"));
  absl::StatusOr<std::unique_ptr<PreTokenizer>> conflicting =
      PreTokenizerFromJson(nlohmann::json::parse(R"({"type": "Metaspace", "replacement": "_",
                                "add_prefix_space": false, "prepend_scheme": "first"})"),
                           JsonLocation("t.json", "pre_tokenizer"));
  EXPECT_FALSE(conflicting.ok());
}

TEST(PreTokenizerTest, MetaspaceFirstOnlyWhereThePieceStillStartsTheInput) {
  // WhitespaceSplit drops the leading space, so "hello" no longer starts the input.
  constexpr std::string_view kAfterWhitespaceSplit = R"({"type": "Sequence", "pretokenizers": [
      {"type": "WhitespaceSplit"},
      {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first"}]})";
  EXPECT_THAT(PreTokenize(kAfterWhitespaceSplit, " hello world"), ElementsAre("hello", "world"));
  EXPECT_THAT(PreTokenize(kAfterWhitespaceSplit, "hello world"),
              ElementsAre(kMeta + "hello", "world"));
  constexpr std::string_view kAfterIsolatedSplit = R"({"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"String": "-"}, "behavior": "Isolated"},
      {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first"}]})";
  EXPECT_THAT(PreTokenize(kAfterIsolatedSplit, "-a b-c"),
              ElementsAre(kMeta + "-", "a", kMeta + "b", "-", "c"));
  constexpr std::string_view kAfterRemovedSplit = R"({"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"String": "-"}, "behavior": "Removed"},
      {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first"}]})";
  EXPECT_THAT(PreTokenize(kAfterRemovedSplit, "-a b-c"), ElementsAre("a", kMeta + "b", "c"));
}

TEST(PreTokenizerTest, Whitespace) {
  constexpr std::string_view kConfig = R"({"type": "Whitespace"})";
  EXPECT_THAT(PreTokenize(kConfig, "Hey man!"), ElementsAre("Hey", "man", "!"));
  // Word characters include letters with marks, digits and '_'; "—" is neither word nor
  // space.
  EXPECT_THAT(PreTokenize(kConfig,
                          "na\xC3\xAFve caf\xC3\xA9\xE2\x80\x94ok \n x_y a\xCC\x81"
                          "b 12"),
              ElementsAre("na\xC3\xAFve", "caf\xC3\xA9", "\xE2\x80\x94", "ok", "x_y",
                          "a\xCC\x81"
                          "b",
                          "12"));
  EXPECT_THAT(PreTokenize(kConfig, "\n"), ElementsAre());
}

TEST(PreTokenizerTest, WhitespaceSplitUsesUnicodeWhiteSpace) {
  constexpr std::string_view kConfig = R"({"type": "WhitespaceSplit"})";
  EXPECT_THAT(PreTokenize(kConfig, "Hey, man, Good?"), ElementsAre("Hey,", "man,", "Good?"));
  // NBSP, ideographic space and NEL are White_Space; ZERO WIDTH SPACE is not.
  EXPECT_THAT(PreTokenize(kConfig,
                          "a\xC2\xA0"
                          "b\xE3\x80\x80"
                          "c\xC2\x85"
                          "d\xE2\x80\x8B"
                          "e"),
              ElementsAre("a", "b", "c",
                          "d\xE2\x80\x8B"
                          "e"));
}

TEST(PreTokenizerTest, Punctuation) {
  EXPECT_THAT(PreTokenize(R"({"type": "Punctuation"})", "Hey friend!     How are you?!?"),
              ElementsAre("Hey friend", "!", "     How are you", "?", "!", "?"));
  // ASCII symbols count as punctuation, as do Unicode P* characters.
  EXPECT_THAT(PreTokenize(R"({"type": "Punctuation"})",
                          "a+b$ \xC2\xAB"
                          "x\xC2\xBB 1^2"),  // « »
              ElementsAre("a", "+", "b", "$", " ", "\xC2\xAB", "x", "\xC2\xBB", " 1", "^", "2"));
  EXPECT_THAT(PreTokenize(R"({"type": "Punctuation", "behavior": "Contiguous"})", "a?!?b"),
              ElementsAre("a", "?!?", "b"));
}

TEST(PreTokenizerTest, Digits) {
  // Any Unicode number: Arabic-Indic three and four, vulgar fraction one half.
  const std::string text =
      "Hey 123 friend! \xD9\xA3\xD9\xA4\xC2\xBD"
      "x";
  EXPECT_THAT(PreTokenize(R"({"type": "Digits", "individual_digits": false})", text),
              ElementsAre("Hey ", "123", " friend! ", "\xD9\xA3\xD9\xA4\xC2\xBD", "x"));
  EXPECT_THAT(
      PreTokenize(R"({"type": "Digits", "individual_digits": true})", text),
      ElementsAre("Hey ", "1", "2", "3", " friend! ", "\xD9\xA3", "\xD9\xA4", "\xC2\xBD", "x"));
}

TEST(PreTokenizerTest, CharDelimiterSplit) {
  EXPECT_THAT(PreTokenize(R"({"type": "CharDelimiterSplit", "delimiter": "-"})", "a-b--c-"),
              ElementsAre("a", "b", "c"));
}

TEST(PreTokenizerTest, UnsupportedTypeNamesTheKey) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre =
      PreTokenizerFromJson(nlohmann::json::parse(R"({"type": "BertPreTokenizer"})"),
                           JsonLocation("m/tokenizer.json", "pre_tokenizer"));
  ASSERT_FALSE(pre.ok());
  EXPECT_THAT(std::string(pre.status().message()),
              ::testing::HasSubstr("m/tokenizer.json: pre_tokenizer.type: unsupported "
                                   "pre-tokenizer \"BertPreTokenizer\""));
}

TEST(PreTokenizerTest, SplitWithoutBehaviorIsAnError) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre = PreTokenizerFromJson(
      nlohmann::json::parse(R"({"type": "Split", "pattern": {"String": "x"}})"),
      JsonLocation("t.json", "pre_tokenizer"));
  ASSERT_FALSE(pre.ok());
  EXPECT_THAT(std::string(pre.status().message()),
              ::testing::HasSubstr("pre_tokenizer.behavior: missing required key"));
}

}  // namespace
}  // namespace loom::text
