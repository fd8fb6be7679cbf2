#include "engine/text/post_processor.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<std::unique_ptr<PostProcessor>> Build(std::string_view config) {
  return PostProcessorFromJson(nlohmann::json::parse(config),
                               JsonLocation("t.json", "post_processor"));
}

std::vector<TokenId> Process(std::string_view config, std::vector<TokenId> ids) {
  absl::StatusOr<std::unique_ptr<PostProcessor>> processor = Build(config);
  EXPECT_TRUE(processor.ok()) << processor.status();
  if (processor.ok()) (*processor)->ProcessSingle(&ids);
  return ids;
}

constexpr std::string_view kBosEosTemplate = R"({"type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
               {"SpecialToken": {"id": "</s>", "type_id": 0}}],
    "pair": [],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]},
                       "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}})";

TEST(PostProcessorTest, TemplateAddsSpecialTokensAroundTheSequence) {
  EXPECT_THAT(Process(kBosEosTemplate, {7, 8}), ElementsAre(1, 7, 8, 2));
  EXPECT_THAT(Process(kBosEosTemplate, {}), ElementsAre(1, 2));
}

TEST(PostProcessorTest, SequenceAndByteLevel) {
  EXPECT_THAT(Process(R"({"type": "Sequence", "processors": [
                           {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false},
                           {"type": "TemplateProcessing",
                            "single": [{"SpecialToken": {"id": "B", "type_id": 0}},
                                       {"Sequence": {"id": "A", "type_id": 0}}],
                            "special_tokens": {"B": {"id": "B", "ids": [9], "tokens": ["B"]}}}]})",
                      {5}),
              ElementsAre(9, 5));
  EXPECT_THAT(Process(R"({"type": "ByteLevel"})", {5}), ElementsAre(5));
}

TEST(PostProcessorTest, BertProcessing) {
  EXPECT_THAT(
      Process(R"({"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]})", {5}),
      ElementsAre(101, 5, 102));
}

TEST(PostProcessorTest, ErrorsNameTheKey) {
  const auto message = [](std::string_view config) {
    absl::StatusOr<std::unique_ptr<PostProcessor>> processor = Build(config);
    EXPECT_FALSE(processor.ok());
    return processor.ok() ? std::string() : std::string(processor.status().message());
  };
  EXPECT_THAT(message(R"({"type": "TemplateProcessing",
                          "single": [{"SpecialToken": {"id": "<x>", "type_id": 0}},
                                     {"Sequence": {"id": "A", "type_id": 0}}],
                          "special_tokens": {}})"),
              HasSubstr("post_processor.single[0].SpecialToken.id: special token \"<x>\""));
  EXPECT_THAT(message(R"({"type": "TemplateProcessing", "single": [], "special_tokens": {}})"),
              HasSubstr("never uses sequence A"));
  EXPECT_THAT(message(R"({"type": "Magic"})"),
              HasSubstr("post_processor.type: unsupported post-processor \"Magic\""));
}

}  // namespace
}  // namespace loom::text
