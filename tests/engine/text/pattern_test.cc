#include "engine/text/pattern.h"

#include <string>
#include <vector>

#include "engine/text/pre_tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Split(std::string_view text, const Pattern& pattern,
                               SplitBehavior behavior, bool invert = false) {
  std::vector<std::string_view> pieces;
  const absl::Status status = SplitText(text, pattern, behavior, invert, &pieces);
  EXPECT_TRUE(status.ok()) << status;
  return std::vector<std::string>(pieces.begin(), pieces.end());
}

Pattern MustRegex(std::string_view regex) {
  absl::StatusOr<Pattern> pattern = Pattern::FromRegex(regex);
  EXPECT_TRUE(pattern.ok()) << pattern.status();
  return *std::move(pattern);
}

// The examples of tokenizers' SplitDelimiterBehavior documentation.
TEST(PatternTest, DelimiterBehaviors) {
  const Pattern dash = Pattern::Literal("-");
  const std::string text = "the-final--countdown";
  EXPECT_THAT(Split(text, dash, SplitBehavior::kRemoved), ElementsAre("the", "final", "countdown"));
  EXPECT_THAT(Split(text, dash, SplitBehavior::kIsolated),
              ElementsAre("the", "-", "final", "-", "-", "countdown"));
  EXPECT_THAT(Split(text, dash, SplitBehavior::kMergedWithPrevious),
              ElementsAre("the-", "final-", "-", "countdown"));
  EXPECT_THAT(Split(text, dash, SplitBehavior::kMergedWithNext),
              ElementsAre("the", "-final", "-", "-countdown"));
  EXPECT_THAT(Split(text, dash, SplitBehavior::kContiguous),
              ElementsAre("the", "-", "final", "--", "countdown"));
}

TEST(PatternTest, InvertKeepsTheMatchesAsContent) {
  const Pattern word = MustRegex(R"(\w+)");
  EXPECT_THAT(Split("Hey, friend!", word, SplitBehavior::kRemoved, /*invert=*/true),
              ElementsAre("Hey", "friend"));
  EXPECT_THAT(Split("Hey, friend!", word, SplitBehavior::kRemoved), ElementsAre(", ", "!"));
}

TEST(PatternTest, EmptyLiteralMatchesEveryBoundary) {
  std::vector<ByteRange> matches;
  ASSERT_TRUE(Pattern::Literal("").FindAll("a\xC3\xA9", &matches).ok());
  EXPECT_THAT(matches, ElementsAre(ByteRange{0, 0}, ByteRange{1, 1}, ByteRange{3, 3}));
}

TEST(PatternTest, Gpt2PatternSplitsLikeTokenizers) {
  const Pattern gpt2 = MustRegex(kGpt2Pattern);
  EXPECT_THAT(Split("Hello world's  3.14\n\n  end", gpt2, SplitBehavior::kIsolated),
              ElementsAre("Hello", " world", "'s", " ", " 3", ".", "14", "\n\n ", " end"));
}

// Llama 3's pattern exercises (?i:...), \p{N}{1,3}, [\r\n] classes and (?!\S).
TEST(PatternTest, Llama3PatternSemantics) {
  const Pattern llama3 = MustRegex(
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)");
  EXPECT_THAT(Split("I'LL pay 12345 now!!\n\n  x", llama3, SplitBehavior::kIsolated),
              ElementsAre("I", "'LL", " pay", " ", "123", "45", " now", "!!\n\n", " ", " x"));
  // U+00A0 (no-break space) is \s; U+200B (zero width space) is not.
  const std::string nbsp = "\xC2\xA0";
  const std::string zwsp = "\xE2\x80\x8B";
  EXPECT_THAT(Split("a" + nbsp + nbsp + "b" + zwsp + zwsp + "c", llama3, SplitBehavior::kIsolated),
              ElementsAre("a", nbsp, nbsp + "b", zwsp + zwsp, "c"));
}

TEST(PatternTest, BadRegexNamesTheKey) {
  const nlohmann::json config = nlohmann::json::parse(R"({"Regex": "(unclosed"})");
  absl::StatusOr<Pattern> pattern =
      Pattern::FromJson(config, JsonLocation("t.json", "pre_tokenizer.pattern"));
  ASSERT_FALSE(pattern.ok());
  EXPECT_THAT(std::string(pattern.status().message()),
              ::testing::HasSubstr("t.json: pre_tokenizer.pattern.Regex"));
}

TEST(PatternTest, BehaviorNamesParse) {
  const JsonLocation where("t.json", "behavior");
  EXPECT_EQ(SplitBehaviorFromJson("MergedWithNext", where).value(), SplitBehavior::kMergedWithNext);
  EXPECT_FALSE(SplitBehaviorFromJson("Sideways", where).ok());
}

}  // namespace
}  // namespace loom::text
