// The runner's batching must not change results: a prompt prefilled in small chunks,
// with small blocks, or next to another sequence gives the logits it gives alone.
#include "engine/model_runner.h"

#include <gtest/gtest.h>

#include <random>

#include "engine/model_loader.h"
#include "kernels/cpu/cpu_backend.h"
#include "tests/engine/model_test_util.h"

namespace loom {
namespace {

LoadedModel Load(Backend* backend, EngineOptions options) {
  auto model = LoadModel(testing::BundledModelDir(), backend, options);
  EXPECT_TRUE(model.ok()) << model.status();
  return *std::move(model);
}

std::vector<int32_t> RandomPrompt(int length, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  std::vector<int32_t> ids(length);
  for (auto& id : ids) id = dist(rng);
  return ids;
}

TEST(ModelRunnerTest, ChunkedPrefillAndBlockSizeDoNotChangeLogits) {
  CpuBackend backend;
  LoadedModel whole = Load(&backend, {.block_size = 64, .max_batch_size = 1});
  LoadedModel chunked =
      Load(&backend, {.block_size = 4, .max_batch_size = 1, .max_prefill_tokens = 7});
  BlockPool whole_pool = testing::PoolFor(*whole.runner);
  BlockPool chunked_pool = testing::PoolFor(*chunked.runner);
  const auto prompt = RandomPrompt(45, whole.config.vocab_size, 17);
  auto a = testing::RunGreedy(*whole.runner, whole_pool, prompt, 6);
  auto b = testing::RunGreedy(*chunked.runner, chunked_pool, prompt, 6);
  EXPECT_EQ(a.ids, b.ids);
  for (size_t step = 0; step < a.logits.size(); ++step) {
    for (size_t v = 0; v < a.logits[step].size(); ++v) {
      ASSERT_NEAR(a.logits[step][v], b.logits[step][v], 1e-4) << "step " << step << " id " << v;
    }
  }
}

// A layer's two orders (each norm handed to the linear op that reads it, or AddRmsNorm
// between plain linear ops; the CUDA backend runs the first for small batches and the
// second for large ones) give the same logits, bit for bit on the CPU.
TEST(ModelRunnerTest, BothNormOrdersGiveTheSameLogits) {
  CpuBackend handed_over(CpuBackendOptions{.norm_in_linear = true});
  CpuBackend apart(CpuBackendOptions{.norm_in_linear = false});
  LoadedModel a = Load(&handed_over, {.block_size = 8, .max_batch_size = 1});
  LoadedModel b = Load(&apart, {.block_size = 8, .max_batch_size = 1});
  BlockPool a_pool = testing::PoolFor(*a.runner);
  BlockPool b_pool = testing::PoolFor(*b.runner);
  const auto prompt = RandomPrompt(19, a.config.vocab_size, 5);
  auto ra = testing::RunGreedy(*a.runner, a_pool, prompt, 5);
  auto rb = testing::RunGreedy(*b.runner, b_pool, prompt, 5);
  EXPECT_EQ(ra.ids, rb.ids);
  EXPECT_EQ(ra.logits, rb.logits);
}

TEST(ModelRunnerTest, TwoSequencesInOneBatchMatchTheirSoloRuns) {
  CpuBackend backend;
  LoadedModel model = Load(&backend, {.block_size = 8, .max_batch_size = 2});
  ModelRunner& runner = *model.runner;
  BlockPool pool = testing::PoolFor(runner);
  const auto p0 = RandomPrompt(13, model.config.vocab_size, 1);
  const auto p1 = RandomPrompt(21, model.config.vocab_size, 2);
  auto solo0 = testing::RunGreedy(runner, pool, p0, 1);
  auto solo1 = testing::RunGreedy(runner, pool, p1, 1);

  auto b0 = pool.Allocate(2);
  auto b1 = pool.Allocate(3);
  ASSERT_TRUE(b0.ok() && b1.ok());
  ForwardBatch batch;
  batch.AddSequence(p0, 0, *b0, 8, true);
  batch.AddSequence(p1, 0, *b1, 8, true);
  auto logits = runner.Forward(batch);
  ASSERT_TRUE(logits.ok()) << logits.status();
  const size_t vocab = model.config.vocab_size;
  ASSERT_EQ(logits->size(), 2 * vocab);
  for (size_t v = 0; v < vocab; ++v) {
    ASSERT_NEAR((*logits)[v], solo0.logits[0][v], 1e-4);
    ASSERT_NEAR((*logits)[vocab + v], solo1.logits[0][v], 1e-4);
  }
}

TEST(ModelRunnerTest, AStepIssuedAheadTakesTheLastStepsSampledIds) {
  CpuBackend backend;
  LoadedModel model = Load(&backend, {.block_size = 8, .max_batch_size = 2});
  ModelRunner& runner = *model.runner;
  BlockPool pool = testing::PoolFor(runner);
  const auto p0 = RandomPrompt(13, model.config.vocab_size, 3);
  const auto p1 = RandomPrompt(8, model.config.vocab_size, 4);
  const auto solo0 = testing::RunGreedy(runner, pool, p0, 2);
  const auto solo1 = testing::RunGreedy(runner, pool, p1, 2);

  auto b0 = pool.Allocate(2);
  auto b1 = pool.Allocate(2);
  ASSERT_TRUE(b0.ok() && b1.ok());
  const std::vector<RowSampling> greedy(2);
  ForwardBatch prefill;
  prefill.AddSequence(p0, 0, *b0, 8, true);
  prefill.AddSequence(p1, 0, *b1, 8, true);
  ASSERT_TRUE(runner.IssueSample(prefill, greedy).ok());
  // The decode step, before the prefill's tokens are read back, in the other order
  // (sequence 1 takes row 1, sequence 0 row 0) and with a wrong id in each place.
  ForwardBatch decode;
  const std::vector<int32_t> unknown = {7};
  decode.AddSequence(unknown, static_cast<int>(p1.size()), *b1, 8, true);
  decode.AddSequence(unknown, static_cast<int>(p0.size()), *b0, 8, true);
  const std::vector<int32_t> fed_rows = {1, 0};
  ASSERT_TRUE(runner.IssueSample(decode, greedy, fed_rows).ok());
  EXPECT_EQ(runner.num_pending_steps(), 2);
  // A third step while two are pending is refused, and so is Forward.
  EXPECT_EQ(runner.IssueSample(decode, greedy, fed_rows).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(runner.Forward(decode).status().code(), absl::StatusCode::kFailedPrecondition);

  auto first = runner.CollectSamples();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(std::vector<int32_t>(first->ids.begin(), first->ids.end()),
            (std::vector<int32_t>{solo0.ids[0], solo1.ids[0]}));
  auto second = runner.CollectSamples();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(std::vector<int32_t>(second->ids.begin(), second->ids.end()),
            (std::vector<int32_t>{solo1.ids[1], solo0.ids[1]}));
  EXPECT_EQ(runner.CollectSamples().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ModelRunnerTest, IssueSampleRefusesWhatItCannotKeepApart) {
  CpuBackend backend;
  LoadedModel model = Load(&backend, {.block_size = 8, .max_batch_size = 2});
  ModelRunner& runner = *model.runner;
  BlockPool pool = testing::PoolFor(runner);
  auto blocks = pool.Allocate(2);
  ASSERT_TRUE(blocks.ok());
  ForwardBatch batch;
  batch.AddSequence(RandomPrompt(5, model.config.vocab_size, 5), 0, *blocks, 8, true);
  const std::vector<RowSampling> greedy(1);
  const std::vector<int32_t> row0 = {0}, row1 = {1};
  // Nothing sampled yet: there is no row to feed from.
  EXPECT_EQ(runner.IssueSample(batch, greedy, row0).code(), absl::StatusCode::kFailedPrecondition);

  // A pending step whose logits go to the host keeps the next one out.
  const std::vector<RowSampling> on_host = {RowSampling{.needs_logits = true}};
  ASSERT_TRUE(runner.IssueSample(batch, on_host).ok());
  EXPECT_EQ(runner.IssueSample(batch, greedy).code(), absl::StatusCode::kFailedPrecondition);
  auto sampled = runner.CollectSamples();
  ASSERT_TRUE(sampled.ok());
  EXPECT_EQ(sampled->logits.size(), static_cast<size_t>(model.config.vocab_size));

  // The last step sampled one row: row 1 does not exist.
  auto status = runner.IssueSample(batch, greedy, row1);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("fed_rows"), std::string::npos) << status;
  EXPECT_EQ(runner.IssueSample(batch, greedy, row0).code(), absl::StatusCode::kOk);
  ASSERT_TRUE(runner.CollectSamples().ok());
}

TEST(ModelRunnerTest, RejectsBadBatches) {
  CpuBackend backend;
  LoadedModel model =
      Load(&backend, {.block_size = 8, .max_batch_size = 1, .max_prefill_tokens = 16});
  ModelRunner& runner = *model.runner;
  std::vector<int32_t> blocks = {0, 1, 2};

  ForwardBatch too_long;
  std::vector<int32_t> many_blocks = {0, 1, 2, 3};
  too_long.AddSequence(RandomPrompt(runner.options().max_num_tokens + 1, 100, 3), 0, many_blocks, 8,
                       true);
  EXPECT_EQ(runner.Forward(too_long).status().code(), absl::StatusCode::kInvalidArgument);

  ForwardBatch bad_token;
  bad_token.AddSequence(std::vector<int32_t>{5, model.config.vocab_size}, 0, blocks, 8, true);
  auto status = runner.Forward(bad_token).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("token id"), std::string::npos);

  ForwardBatch bad_block;
  std::vector<int32_t> outside = {runner.options().num_blocks};
  bad_block.AddSequence(std::vector<int32_t>{1, 2}, 0, outside, 8, true);
  status = runner.Forward(bad_block).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("block"), std::string::npos);
}

}  // namespace
}  // namespace loom
