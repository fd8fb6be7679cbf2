#include "engine/text/pre_tokenizer.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> PreTokenize(std::string_view config, std::string text) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre =
      PreTokenizerFromJson(nlohmann::json::parse(config), JsonLocation("t.json", "pre_tokenizer"));
  EXPECT_TRUE(pre.ok()) << pre.status();
  if (!pre.ok()) return {};
  std::vector<std::string> pieces = {std::move(text)};
  const absl::Status status = (*pre)->PreTokenize(&pieces);
  EXPECT_TRUE(status.ok()) << status;
  return pieces;
}

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

TEST(PreTokenizerTest, UnsupportedTypeNamesTheKey) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre =
      PreTokenizerFromJson(nlohmann::json::parse(R"({"type": "Metaspace", "replacement": "_"})"),
                           JsonLocation("m/tokenizer.json", "pre_tokenizer"));
  ASSERT_FALSE(pre.ok());
  EXPECT_THAT(std::string(pre.status().message()),
              ::testing::HasSubstr("m/tokenizer.json: pre_tokenizer.type: unsupported "
                                   "pre-tokenizer \"Metaspace\""));
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
