// The CPU backend against transformers (float64) on the bundled tiny model: every golden
// case must give the same prompt ids, the same 48 greedy tokens, and last-position logits
// within 1e-3 of the largest golden logit.
#include <gtest/gtest.h>

#include <memory>

#include "engine/generator.h"
#include "engine/model_loader.h"
#include "kernels/cpu/cpu_backend.h"
#include "tests/engine/model_test_util.h"

namespace loom {
namespace {

class ParityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    golden_ = new nlohmann::json(testing::LoadTinyGolden());
    backend_ = new CpuBackend();
    auto model = LoadModel(testing::BundledModelDir(), backend_,
                           EngineOptions{.block_size = 16, .max_batch_size = 2});
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = new LoadedModel(*std::move(model));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete backend_;
    delete golden_;
  }

  static nlohmann::json* golden_;
  static CpuBackend* backend_;
  static LoadedModel* model_;
};

nlohmann::json* ParityTest::golden_ = nullptr;
CpuBackend* ParityTest::backend_ = nullptr;
LoadedModel* ParityTest::model_ = nullptr;

TEST_F(ParityTest, PromptIdsMatch) {
  ASSERT_GE((*golden_)["cases"].size(), 1u);
  for (const auto& c : (*golden_)["cases"]) {
    auto ids = model_->tokenizer->Encode(c["prompt"].get<std::string>(), true);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, c["prompt_ids"].get<std::vector<int32_t>>()) << c["prompt"];
  }
}

TEST_F(ParityTest, LastLogitsAndGreedyTokensMatchTransformers) {
  BlockPool pool = testing::PoolFor(*model_->runner);
  for (const auto& c : (*golden_)["cases"]) {
    const auto prompt = c["prompt_ids"].get<std::vector<int32_t>>();
    const auto golden_ids = c["greedy_ids"].get<std::vector<int32_t>>();
    const auto golden_logits = c["last_logits"].get<std::vector<double>>();
    SCOPED_TRACE(c["prompt"].get<std::string>().substr(0, 40));
    auto trace = testing::RunGreedy(*model_->runner, pool, prompt, golden_ids.size());
    ASSERT_EQ(trace.logits.size(), golden_ids.size());
    ASSERT_EQ(trace.logits[0].size(), golden_logits.size());
    EXPECT_LE(testing::MaxRelativeError(trace.logits[0], golden_logits), 1e-3);
    EXPECT_EQ(trace.ids, golden_ids);
    // Each step's top-5 logits, where transformers recorded them.
    const auto& top5 = c["greedy_top5"];
    for (size_t step = 0; step < top5.size() && step < trace.logits.size(); ++step) {
      const auto ids = top5[step]["ids"].get<std::vector<int32_t>>();
      const auto values = top5[step]["logits"].get<std::vector<double>>();
      for (size_t k = 0; k < ids.size(); ++k) {
        EXPECT_NEAR(trace.logits[step][ids[k]], values[k], 1e-3 * std::abs(values[0]))
            << "step " << step << " rank " << k;
      }
    }
  }
  EXPECT_EQ(pool.num_blocks_free(), pool.num_blocks());
}

TEST_F(ParityTest, GeneratorReproducesGreedyIds) {
  Generator generator(model_->runner.get(), model_->session_len);
  for (const auto& c : (*golden_)["cases"]) {
    GenerateRequest request;
    request.prompt_ids = c["prompt_ids"].get<std::vector<int32_t>>();
    request.sampling.temperature = 0.0f;
    request.max_tokens = static_cast<int>(c["greedy_ids"].size());
    std::vector<int32_t> streamed;
    auto result = generator.Generate(request, [&](int32_t id) { streamed.push_back(id); });
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->output_ids, c["greedy_ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(streamed, result->output_ids);
    EXPECT_EQ(result->finish_reason, FinishReason::kLength);
    auto text = model_->tokenizer->Decode(result->output_ids, false);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(*text, c["greedy_text"].get<std::string>());
  }
}

}  // namespace
}  // namespace loom
