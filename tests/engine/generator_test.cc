#include "engine/generator.h"

#include <gtest/gtest.h>

#include "engine/model_loader.h"
#include "kernels/cpu/cpu_backend.h"
#include "tests/engine/model_test_util.h"

namespace loom {
namespace {

class GeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto model =
        LoadModel(testing::BundledModelDir(), &backend_,
                  EngineOptions{.block_size = 16, .session_len = 256, .max_batch_size = 1});
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::make_unique<LoadedModel>(*std::move(model));
    generator_ = std::make_unique<Generator>(model_->runner.get(), model_->session_len);
  }

  GenerateRequest Request(float temperature, std::optional<uint64_t> seed, int max_tokens) {
    GenerateRequest r;
    r.prompt_ids = {2043, 866, 25};  // "ROMEO:" with BOS
    r.sampling =
        SamplingParams{.temperature = temperature, .top_k = 40, .top_p = 0.95f, .seed = seed};
    r.max_tokens = max_tokens;
    return r;
  }

  CpuBackend backend_;
  std::unique_ptr<LoadedModel> model_;
  std::unique_ptr<Generator> generator_;
};

TEST_F(GeneratorTest, SeededSamplingRepeats) {
  auto a = generator_->Generate(Request(0.9f, 42, 24));
  auto b = generator_->Generate(Request(0.9f, 42, 24));
  auto c = generator_->Generate(Request(0.9f, 43, 24));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->output_ids, b->output_ids);
  EXPECT_NE(a->output_ids, c->output_ids);
  EXPECT_EQ(a->output_ids.size(), 24u);
}

TEST_F(GeneratorTest, StopsAtAStopTokenAndIncludesIt) {
  auto greedy = generator_->Generate(Request(0.0f, std::nullopt, 12));
  ASSERT_TRUE(greedy.ok());
  GenerateRequest request = Request(0.0f, std::nullopt, 12);
  request.stop_token_ids = {greedy->output_ids[4]};
  auto stopped = generator_->Generate(request);
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->finish_reason, FinishReason::kStop);
  // The first occurrence of the stop id ends generation.
  const auto first =
      std::find(greedy->output_ids.begin(), greedy->output_ids.end(), greedy->output_ids[4]);
  EXPECT_EQ(stopped->output_ids, std::vector<int32_t>(greedy->output_ids.begin(), first + 1));
}

TEST_F(GeneratorTest, InvalidRequestsNameTheField) {
  GenerateRequest empty = Request(0.0f, std::nullopt, 4);
  empty.prompt_ids.clear();
  auto status = generator_->Generate(empty).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("prompt"), std::string::npos);

  status = generator_->Generate(Request(0.0f, std::nullopt, 0)).status();
  EXPECT_NE(status.message().find("max_tokens"), std::string::npos);

  status = generator_->Generate(Request(0.0f, std::nullopt, 300)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("session_len"), std::string::npos);

  GenerateRequest bad_id = Request(0.0f, std::nullopt, 4);
  bad_id.prompt_ids.push_back(99999);
  status = generator_->Generate(bad_id).status();
  EXPECT_NE(status.message().find("99999"), std::string::npos);

  GenerateRequest bad_sampling = Request(-1.0f, std::nullopt, 4);
  status = generator_->Generate(bad_sampling).status();
  EXPECT_NE(status.message().find("temperature"), std::string::npos);

  // A failed request leaves the generator usable.
  EXPECT_TRUE(generator_->Generate(Request(0.0f, std::nullopt, 4)).ok());
}

}  // namespace
}  // namespace loom
