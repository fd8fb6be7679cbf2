// Scheduler::Plan on hand-built states: admission order, the prefill budget, batch
// limits, preemption of the youngest, and prefix reuse. Plan changes nothing, so each
// case checks the plan, then applies it with KvCacheManager where that matters.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <memory>

#include "engine/kv_cache_manager.h"
#include "engine/text/tokenizer.h"
#include "tests/engine/model_test_util.h"

namespace loom {
namespace {

class SchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto t = Tokenizer::Load(testing::BundledModelDir());
    ASSERT_TRUE(t.ok()) << t.status();
    tokenizer_ = t->release();
  }
  static void TearDownTestSuite() { delete tokenizer_; }

  // A waiting sequence with `length` prompt tokens (distinct per `seed`).
  Sequence* NewSequence(int length, int seed = 0) {
    Request r;
    for (int i = 0; i < length; ++i) r.prompt_ids.push_back((seed * 131 + i * 7) % 2000);
    auto detok = Detokenizer::Create(*tokenizer_, true, {});
    EXPECT_TRUE(detok.ok());
    owned_.push_back(std::make_unique<Sequence>(std::move(r), std::make_shared<OutputChannel>(),
                                                next_arrival_++, absl::Now(), *std::move(detok)));
    return owned_.back().get();
  }

  // Makes `s` a running, fully prefilled sequence with one sampled token to run.
  void Prefill(Sequence* s, BlockPool& pool, KvCacheManager& kv) {
    const int len = static_cast<int>(s->tokens.size());
    auto blocks = pool.Allocate((len + pool.block_size() - 1) / pool.block_size());
    ASSERT_TRUE(blocks.ok());
    s->blocks = *blocks;
    s->admitted_once = true;
    kv.Finish(ScheduledChunk{.seq = s, .start = 0, .num_tokens = len});
    s->tokens.push_back(5);
  }

  static Scheduler Make(int max_batch, int budget, int block_size) {
    return Scheduler(
        SchedulerConfig{
            .max_batch_size = max_batch, .max_prefill_tokens = budget, .block_size = block_size},
        std::make_unique<FcfsPolicy>());
  }

  static Tokenizer* tokenizer_;
  std::vector<std::unique_ptr<Sequence>> owned_;
  int64_t next_arrival_ = 0;
};

Tokenizer* SchedulerTest::tokenizer_ = nullptr;

TEST_F(SchedulerTest, PrefillBudgetChunksAdmissionsInArrivalOrder) {
  BlockPool pool(32, 8, false);
  Scheduler scheduler = Make(8, 64, 8);
  Sequence* a = NewSequence(40, 1);
  Sequence* b = NewSequence(40, 2);
  Sequence* c = NewSequence(40, 3);
  BatchPlan plan = scheduler.Plan({}, {c, a, b}, pool);
  ASSERT_EQ(plan.chunks.size(), 2u);
  EXPECT_EQ(plan.chunks[0].seq, a);
  EXPECT_EQ(plan.chunks[0].num_tokens, 40);
  EXPECT_TRUE(plan.chunks[0].samples());
  EXPECT_EQ(plan.chunks[1].seq, b);
  EXPECT_EQ(plan.chunks[1].num_tokens, 24);  // the rest of the budget
  EXPECT_FALSE(plan.chunks[1].samples());
  EXPECT_EQ(plan.chunks[1].num_new_blocks, 3);
}

TEST_F(SchedulerTest, DecodesAreNotBudgetedButBatchSizeIsRespected) {
  BlockPool pool(64, 8, false);
  KvCacheManager kv(&pool);
  Scheduler scheduler = Make(6, 1, 8);
  std::vector<Sequence*> running;
  for (int i = 0; i < 6; ++i) {
    running.push_back(NewSequence(10, i));
    Prefill(running.back(), pool, kv);
  }
  Sequence* waiting = NewSequence(4, 9);
  BatchPlan plan = scheduler.Plan(running, {waiting}, pool);
  EXPECT_EQ(plan.chunks.size(), 6u);  // six decodes; the batch is full
  for (const auto& c : plan.chunks) EXPECT_EQ(c.num_tokens, 1);
  EXPECT_TRUE(plan.preempted.empty());
}

TEST_F(SchedulerTest, AFirstRequestThatDoesNotFitBlocksLaterOnes) {
  BlockPool pool(4, 8, false);  // 32 tokens
  Scheduler scheduler = Make(8, 1000, 8);
  Sequence* big = NewSequence(40, 1);
  Sequence* small = NewSequence(4, 2);
  BatchPlan plan = scheduler.Plan({}, {big, small}, pool);
  EXPECT_TRUE(plan.chunks.empty());
}

TEST_F(SchedulerTest, ThePoolRunningOutPreemptsTheYoungestAndAdmitsNobody) {
  BlockPool pool(6, 4, false);
  KvCacheManager kv(&pool);
  Scheduler scheduler = Make(8, 100, 4);
  Sequence* old_seq = NewSequence(8, 1);    // 2 blocks, full: its next token needs a third
  Sequence* young_seq = NewSequence(8, 2);  // 2 blocks
  Prefill(old_seq, pool, kv);
  Prefill(young_seq, pool, kv);
  auto filler = pool.Allocate(2);  // someone else holds the rest
  ASSERT_TRUE(filler.ok());
  Sequence* waiting = NewSequence(2, 3);
  BatchPlan plan = scheduler.Plan({young_seq, old_seq}, {waiting}, pool);
  ASSERT_EQ(plan.preempted, std::vector<Sequence*>{young_seq});
  ASSERT_EQ(plan.chunks.size(), 1u);
  EXPECT_EQ(plan.chunks[0].seq, old_seq);
  EXPECT_EQ(plan.chunks[0].num_new_blocks, 1);
  kv.Commit(plan);
  EXPECT_TRUE(young_seq->blocks.empty());
  EXPECT_EQ(young_seq->num_computed, 0);
  EXPECT_EQ(old_seq->blocks.size(), 3u);
}

TEST_F(SchedulerTest, AdmissionTakesTheCachedPrefixButAlwaysRunsTheLastToken) {
  BlockPool pool(16, 4, true);
  KvCacheManager kv(&pool);
  Scheduler scheduler = Make(8, 100, 4);
  Sequence* first = NewSequence(12, 1);  // three full blocks
  Prefill(first, pool, kv);
  kv.Release(*first);  // finished: its blocks stay cached

  Sequence* same = NewSequence(12, 1);  // the same 12 tokens
  BatchPlan plan = scheduler.Plan({}, {same}, pool);
  ASSERT_EQ(plan.chunks.size(), 1u);
  // Two blocks are reused; the third holds the last token, which must run for logits.
  EXPECT_EQ(plan.chunks[0].prefix_blocks.size(), 2u);
  EXPECT_EQ(plan.chunks[0].start, 8);
  EXPECT_EQ(plan.chunks[0].num_tokens, 4);
  kv.Commit(plan);
  EXPECT_EQ(same->num_cached_prompt_tokens, 8);
  EXPECT_EQ(same->blocks.size(), 3u);
}

}  // namespace
}  // namespace loom
