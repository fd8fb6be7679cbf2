// Scheduler overhead: planning one decode step for 256 running sequences of about 500
// tokens, applying it to the KV state, and publishing what it filled, with no model.
//
//   build/default/tests/bench/scheduler_bench
//
// Results go in docs/BENCHMARKS.md (target: at most 50 us per step).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/kv_cache_manager.h"
#include "engine/scheduler.h"
#include "engine/text/tokenizer.h"

namespace {

using namespace loom;

const Tokenizer& Tiny() {
  static const Tokenizer* tokenizer = [] {
    auto t = Tokenizer::Load(std::string(LOOM_SOURCE_DIR) + "/models/tiny-shakespeare-llama");
    if (!t.ok()) std::abort();
    return t->release();
  }();
  return *tokenizer;
}

void BM_DecodeStep(benchmark::State& state) {
  const int num_seqs = static_cast<int>(state.range(0));
  const int prompt_len = 500;
  const int block_size = 64;
  const int num_blocks = num_seqs * (prompt_len / block_size + 4);
  BlockPool pool(num_blocks, block_size, /*enable_prefix_caching=*/true);
  KvCacheManager kv(&pool);
  Scheduler scheduler(
      SchedulerConfig{
          .max_batch_size = num_seqs, .max_prefill_tokens = 8192, .block_size = block_size},
      std::make_unique<FcfsPolicy>());

  // Running sequences, prefilled: every prompt token computed, one sampled token to run.
  std::mt19937 rng(0);
  std::vector<std::unique_ptr<Sequence>> owned;
  std::vector<Sequence*> running;
  for (int i = 0; i < num_seqs; ++i) {
    Request r;
    r.prompt_ids.resize(prompt_len - 20 + rng() % 40);
    for (auto& id : r.prompt_ids) id = static_cast<int32_t>(rng() % 2000);
    auto detokenizer = Detokenizer::Create(Tiny(), true, {});
    owned.push_back(std::make_unique<Sequence>(std::move(r), std::make_shared<OutputChannel>(), i,
                                               absl::Now(), *std::move(detokenizer)));
    Sequence& s = *owned.back();
    auto blocks = pool.Allocate((static_cast<int>(s.tokens.size()) + block_size - 1) / block_size);
    if (!blocks.ok()) std::abort();
    s.blocks = *blocks;
    kv.Finish(
        ScheduledChunk{.seq = &s, .start = 0, .num_tokens = static_cast<int>(s.tokens.size())});
    s.tokens.push_back(1);
    running.push_back(&s);
  }

  for (auto _ : state) {
    BatchPlan plan = scheduler.Plan(running, {}, pool);
    kv.Commit(plan);
    for (const ScheduledChunk& c : plan.chunks) {
      kv.Finish(c);
      c.seq->tokens.push_back(2);  // the token the step would have sampled
    }
    benchmark::DoNotOptimize(plan);
    // Keep lengths steady: every 64 steps, drop each sequence back to its prompt.
    if (running[0]->tokens.size() > static_cast<size_t>(running[0]->num_prompt_tokens + 64)) {
      state.PauseTiming();
      for (Sequence* s : running) {
        kv.Release(*s);
        s->tokens.resize(s->num_prompt_tokens);
        auto blocks = pool.Allocate((s->num_prompt_tokens + block_size - 1) / block_size);
        if (!blocks.ok()) std::abort();
        s->blocks = *blocks;
        kv.Finish(ScheduledChunk{.seq = s, .start = 0, .num_tokens = s->num_prompt_tokens});
        s->tokens.push_back(1);
      }
      state.ResumeTiming();
    }
  }
  state.counters["seqs"] = num_seqs;
}
BENCHMARK(BM_DecodeStep)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
