// LoadServedModel with and without what a model YAML adds (ServedModelOptions).
#include "server/served_model.h"

#include <gtest/gtest.h>

#include "engine/chat/builtin_templates.h"
#include "tests/engine/model_test_util.h"

namespace loom {
namespace {

const EngineOptions kEngine{.block_size = 16, .session_len = 256, .max_batch_size = 2};

TEST(ServedModelTest, WithoutOptionsTheModelsGenerationConfigGivesTheDefaults) {
  auto model = LoadServedModel(testing::BundledModelDir(), "tiny", kEngine, EngineConfig{});
  ASSERT_TRUE(model.ok()) << model.status();
  // generation_config.json: do_sample, temperature 0.8, top_p 0.95, max_new_tokens 128.
  EXPECT_FLOAT_EQ(model->default_sampling.temperature, 0.8f);
  EXPECT_FLOAT_EQ(model->default_sampling.top_p, 0.95f);
  EXPECT_EQ(model->default_sampling.top_k, 0);
  EXPECT_EQ(model->default_max_tokens, 128);
  EXPECT_TRUE(model->default_stop.empty());
  EXPECT_NE(model->chat->source(), ChatFormatter::Source::kYamlNamed);
}

TEST(ServedModelTest, YamlSamplingDefaultsReplaceOnlyWhatTheySet) {
  ServedModelOptions options;
  options.sampling.temperature = 0.0f;
  options.sampling.top_k = 40;
  options.sampling.min_p = 0.1f;
  options.sampling.presence_penalty = 0.5f;
  options.sampling.max_tokens = 7;
  options.chat_template = *FindBuiltinChatTemplate("chatml");
  auto model =
      LoadServedModel(testing::BundledModelDir(), "tiny", kEngine, EngineConfig{}, options);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->default_sampling.temperature, 0.0f);
  EXPECT_FLOAT_EQ(model->default_sampling.top_p, 0.95f);  // still generation_config.json's
  EXPECT_EQ(model->default_sampling.top_k, 40);
  EXPECT_FLOAT_EQ(model->default_sampling.min_p, 0.1f);
  EXPECT_FLOAT_EQ(model->default_sampling.presence_penalty, 0.5f);
  EXPECT_EQ(model->default_max_tokens, 7);
  EXPECT_EQ(model->chat->source(), ChatFormatter::Source::kYamlNamed);
}

TEST(ServedModelTest, DefaultsOutOfRangeAreRefused) {
  ServedModelOptions options;
  options.sampling.top_p = 0.0f;
  auto model =
      LoadServedModel(testing::BundledModelDir(), "tiny", kEngine, EngineConfig{}, options);
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(model.status().message().find("top_p"), std::string::npos) << model.status();
}

}  // namespace
}  // namespace loom
