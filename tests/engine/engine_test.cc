// The engine end to end on the bundled model (CPU backend): continuous batching must
// give every request exactly the tokens it gets alone, whatever shares its batch, with
// prefix caching, preemption, cancellation and stop strings in play.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <thread>

#include "engine/generator.h"
#include "kernels/cpu/cpu_backend.h"
#include "tests/engine/model_test_util.h"

namespace loom {
namespace {

struct Outcome {
  std::vector<int32_t> ids;
  std::string text;
  RequestOutput final;
};

// Reads a channel to its end.
Outcome Drain(OutputChannel& channel) {
  Outcome out;
  while (auto o = channel.Next()) {
    out.ids.insert(out.ids.end(), o->token_ids.begin(), o->token_ids.end());
    out.text += o->text;
    if (o->finished || !o->status.ok()) out.final = *o;
  }
  return out;
}

// The parameter: whether the backend samples on the device, as a GPU backend does. The
// engine then issues each decode step before it reads back the last (async scheduling).
class EngineTest : public ::testing::TestWithParam<bool> {
 protected:
  std::unique_ptr<Engine> MakeEngine(EngineOptions options, EngineConfig config = {}) {
    auto model = LoadModel(testing::BundledModelDir(), &backend_, options);
    EXPECT_TRUE(model.ok()) << model.status();
    auto engine = Engine::Create(*std::move(model), config);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return *std::move(engine);
  }

  // Greedy ids of `prompt` generated alone by the single-sequence generator.
  std::vector<int32_t> Solo(const std::vector<int32_t>& prompt, int max_tokens) {
    if (!solo_model_) {
      auto model = LoadModel(testing::BundledModelDir(), &backend_,
                             EngineOptions{.block_size = 16, .max_batch_size = 1});
      EXPECT_TRUE(model.ok());
      solo_model_ = std::make_unique<LoadedModel>(*std::move(model));
    }
    Generator generator(solo_model_->runner.get(), solo_model_->session_len);
    GenerateRequest r{
        .prompt_ids = prompt, .sampling = {.temperature = 0.0f}, .max_tokens = max_tokens};
    auto result = generator.Generate(r);
    EXPECT_TRUE(result.ok()) << result.status();
    return result->output_ids;
  }

  static Request Greedy(std::vector<int32_t> prompt, int max_tokens) {
    Request r;
    r.prompt_ids = std::move(prompt);
    r.sampling.temperature = 0.0f;
    r.stop.max_tokens = max_tokens;
    r.stop.ignore_eos = true;
    return r;
  }

  std::vector<int32_t> RandomPrompt(std::mt19937& rng, int length) {
    std::uniform_int_distribution<int32_t> token(0, 2042);  // below the special tokens
    std::vector<int32_t> ids(length);
    for (auto& id : ids) id = token(rng);
    return ids;
  }

  CpuBackend backend_{CpuBackendOptions{.samples_on_device = GetParam()}};
  std::unique_ptr<LoadedModel> solo_model_;
};

INSTANTIATE_TEST_SUITE_P(Sampling, EngineTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "OnDevice" : "OnHost";
                         });

TEST_P(EngineTest, ConcurrentGreedyRequestsMatchTheirSoloRuns) {
  auto engine = MakeEngine({.block_size = 16,
                            .session_len = 256,
                            .max_batch_size = 8,
                            .max_prefill_tokens = 64,
                            .num_blocks = 64});
  std::mt19937 rng(1);
  std::vector<std::pair<Request, std::shared_ptr<OutputChannel>>> requests;
  for (int i = 0; i < 32; ++i) {
    Request r = Greedy(RandomPrompt(rng, 1 + rng() % 90), 4 + rng() % 20);
    auto channel = engine->Submit(r);
    ASSERT_TRUE(channel.ok()) << channel.status();
    requests.emplace_back(std::move(r), *channel);
  }
  for (auto& [request, channel] : requests) {
    Outcome out = Drain(*channel);
    ASSERT_TRUE(out.final.status.ok()) << out.final.status;
    EXPECT_EQ(out.ids, Solo(request.prompt_ids, request.stop.max_tokens));
    EXPECT_EQ(out.final.finish_reason, FinishReason::kLength);
    EXPECT_EQ(out.final.usage.completion_tokens, request.stop.max_tokens);
    EXPECT_EQ(out.final.usage.prompt_tokens, static_cast<int>(request.prompt_ids.size()));
  }
  const EngineStats stats = engine->stats();
  EXPECT_EQ(stats.requests_finished_length, 32);
  EXPECT_EQ(stats.num_blocks_active, 0);
  // Steps run ahead only where the device samples; every request ended by length, which
  // the engine sees coming, so nothing was computed in vain.
  if (GetParam()) {
    EXPECT_GT(stats.num_async_steps, 0);
  } else {
    EXPECT_EQ(stats.num_async_steps, 0);
  }
  EXPECT_EQ(stats.num_async_discarded_tokens, 0);
}

// The first `stop`'s position in `ids`, through it.
std::vector<int32_t> ThroughFirst(const std::vector<int32_t>& ids, int32_t stop) {
  return {ids.begin(), std::find(ids.begin(), ids.end(), stop) + 1};
}

TEST_P(EngineTest, StopTokensEndEachRequestExactlyWithOrWithoutAsyncScheduling) {
  std::mt19937 rng(21);
  struct Case {
    Request request;
    std::vector<int32_t> expected;
  };
  std::vector<Case> cases;
  for (int i = 0; i < 12; ++i) {
    const std::vector<int32_t> prompt = RandomPrompt(rng, 1 + rng() % 30);
    const std::vector<int32_t> solo = Solo(prompt, 16);
    const int32_t stop = solo[4 + rng() % 8];
    Request r = Greedy(prompt, 16);
    r.stop.stop_token_ids = {stop};
    cases.push_back({std::move(r), ThroughFirst(solo, stop)});
  }
  for (bool async_scheduling : {true, false}) {
    SCOPED_TRACE(async_scheduling ? "async scheduling" : "no async scheduling");
    auto engine =
        MakeEngine({.block_size = 8, .session_len = 128, .max_batch_size = 16, .num_blocks = 96},
                   EngineConfig{.async_scheduling = async_scheduling});
    std::vector<std::shared_ptr<OutputChannel>> channels;
    for (const Case& c : cases) {
      auto channel = engine->Submit(c.request);
      ASSERT_TRUE(channel.ok()) << channel.status();
      channels.push_back(*channel);
    }
    for (size_t i = 0; i < cases.size(); ++i) {
      Outcome out = Drain(*channels[i]);
      ASSERT_TRUE(out.final.status.ok()) << out.final.status;
      EXPECT_EQ(out.ids, cases[i].expected) << "request " << i;
      EXPECT_EQ(out.final.finish_reason, FinishReason::kStop);
    }
    const EngineStats stats = engine->stats();
    EXPECT_EQ(stats.num_blocks_active, 0);
    EXPECT_EQ(stats.requests_finished_stop, 12);
    if (GetParam() && async_scheduling) {
      // Each request stopped at its fifth token or later, with the step after it queued.
      EXPECT_GT(stats.num_async_steps, 0);
      EXPECT_GT(stats.num_async_discarded_tokens, 0);
    } else {
      EXPECT_EQ(stats.num_async_steps, 0);
      EXPECT_EQ(stats.num_async_discarded_tokens, 0);
    }
  }
}

TEST_P(EngineTest, SharedPrefixReusesCachedBlocks) {
  auto engine =
      MakeEngine({.block_size = 16, .session_len = 256, .max_batch_size = 4, .num_blocks = 32});
  std::mt19937 rng(2);
  const std::vector<int32_t> prefix = RandomPrompt(rng, 3 * 16);
  std::vector<int32_t> a = prefix, b = prefix;
  for (int32_t t : RandomPrompt(rng, 5)) a.push_back(t);
  for (int32_t t : RandomPrompt(rng, 9)) b.push_back(t);

  auto first = engine->Submit(Greedy(a, 6));
  ASSERT_TRUE(first.ok());
  Outcome out_a = Drain(**first);
  EXPECT_EQ(out_a.final.usage.cached_prompt_tokens, 0);
  auto second = engine->Submit(Greedy(b, 6));
  ASSERT_TRUE(second.ok());
  Outcome out_b = Drain(**second);
  EXPECT_EQ(out_b.final.usage.cached_prompt_tokens, 3 * 16);
  EXPECT_EQ(out_b.ids, Solo(b, 6));
  const EngineStats stats = engine->stats();
  EXPECT_EQ(stats.prefix_cache_hits, 3 * 16);
  EXPECT_EQ(stats.prefix_cache_queries, static_cast<int64_t>(a.size() + b.size()));
  EXPECT_GT(stats.num_blocks_cached, 0);
}

TEST_P(EngineTest, PreemptionUnderATinyPoolKeepsOutputsExact) {
  // 10 blocks of 8 tokens: 80 tokens for 6 requests that each need up to 56.
  auto engine = MakeEngine({.block_size = 8,
                            .session_len = 80,
                            .max_batch_size = 6,
                            .max_prefill_tokens = 32,
                            .num_blocks = 10});
  std::mt19937 rng(3);
  std::vector<std::pair<Request, std::shared_ptr<OutputChannel>>> requests;
  for (int i = 0; i < 6; ++i) {
    Request r = Greedy(RandomPrompt(rng, 20 + rng() % 16), 20);
    auto channel = engine->Submit(r);
    ASSERT_TRUE(channel.ok()) << channel.status();
    requests.emplace_back(std::move(r), *channel);
  }
  for (auto& [request, channel] : requests) {
    Outcome out = Drain(*channel);
    ASSERT_TRUE(out.final.status.ok()) << out.final.status;
    EXPECT_EQ(out.ids, Solo(request.prompt_ids, request.stop.max_tokens));
  }
  const EngineStats stats = engine->stats();
  EXPECT_GT(stats.num_preemptions, 0);
  EXPECT_EQ(stats.num_blocks_active, 0);
}

TEST_P(EngineTest, CancellingHalfOfTheRequestsReturnsEveryBlock) {
  auto engine =
      MakeEngine({.block_size = 16, .session_len = 256, .max_batch_size = 16, .num_blocks = 64});
  std::mt19937 rng(4);
  std::vector<std::shared_ptr<OutputChannel>> channels;
  for (int i = 0; i < 64; ++i) {
    auto channel = engine->Submit(Greedy(RandomPrompt(rng, 1 + rng() % 40), 40));
    ASSERT_TRUE(channel.ok());
    channels.push_back(*channel);
  }
  // Cancel every other request after reading a random number of its messages.
  std::map<int, FinishReason> reasons;
  for (int i = 0; i < 64; ++i) {
    if (i % 2 == 1) {
      for (int k = rng() % 4; k > 0; --k) {
        auto o = channels[i]->Next();
        if (!o || o->finished) break;
      }
      channels[i]->Cancel();
    }
  }
  int cancelled = 0;
  for (int i = 0; i < 64; ++i) {
    Outcome out = Drain(*channels[i]);
    if (i % 2 == 0) {
      EXPECT_EQ(out.final.finish_reason, FinishReason::kLength);
    } else {
      cancelled += out.final.finish_reason == FinishReason::kCancelled;
    }
  }
  EXPECT_GT(cancelled, 0);  // some may finish before their cancel is seen
  const EngineStats stats = engine->stats();
  EXPECT_EQ(stats.num_blocks_active, 0);
  EXPECT_EQ(stats.num_requests_running, 0);
  EXPECT_EQ(stats.requests_cancelled, cancelled);
}

TEST_P(EngineTest, StopStringAcrossTokensEndsTheTextBeforeIt) {
  auto engine = MakeEngine({.block_size = 16, .session_len = 256, .max_batch_size = 2});
  const std::vector<int32_t> prompt = {2043, 866, 25};  // "ROMEO:"
  auto full = engine->Submit(Greedy(prompt, 48));
  ASSERT_TRUE(full.ok());
  Outcome whole = Drain(**full);
  // The golden continuation: " I have, I am noted.\n\nROMEO:\nI am a man, ..."
  const std::string stop = "noted.\n\nRO";
  const size_t at = whole.text.find(stop);
  ASSERT_NE(at, std::string::npos) << whole.text;

  Request r = Greedy(prompt, 48);
  r.stop.stop = {stop};
  auto stopped = engine->Submit(r);
  ASSERT_TRUE(stopped.ok());
  Outcome out = Drain(**stopped);
  EXPECT_EQ(out.text, whole.text.substr(0, at));
  EXPECT_EQ(out.final.finish_reason, FinishReason::kStop);
  EXPECT_LT(out.ids.size(), whole.ids.size());
}

TEST_P(EngineTest, StopTokenAndEos) {
  auto engine = MakeEngine({.block_size = 16, .session_len = 256, .max_batch_size = 2});
  const std::vector<int32_t> prompt = {2043, 866, 25};
  const std::vector<int32_t> solo = Solo(prompt, 12);
  Request r = Greedy(prompt, 12);
  r.stop.stop_token_ids = {solo[3]};
  auto channel = engine->Submit(r);
  ASSERT_TRUE(channel.ok());
  Outcome out = Drain(**channel);
  EXPECT_EQ(out.final.finish_reason, FinishReason::kStop);
  EXPECT_EQ(out.ids.back(), solo[3]);
  EXPECT_LE(out.ids.size(), 4u);
}

TEST_P(EngineTest, InvalidRequestsAreRejectedAtSubmitNamingTheField) {
  auto engine = MakeEngine({.block_size = 16, .session_len = 128, .max_batch_size = 2});
  auto expect = [&](Request r, const std::string& field) {
    auto channel = engine->Submit(std::move(r));
    ASSERT_FALSE(channel.ok());
    EXPECT_EQ(channel.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(channel.status().message().find(field), std::string::npos) << channel.status();
  };
  expect(Greedy({}, 4), "prompt");
  expect(Greedy({1, 99999}, 4), "prompt");
  expect(Greedy({1, 2}, 0), "max_tokens");
  expect(Greedy({1, 2}, 200), "session_len");
  Request bad_sampling = Greedy({1, 2}, 4);
  bad_sampling.sampling.top_p = 0.0f;
  expect(bad_sampling, "top_p");
  Request bad_stop = Greedy({1, 2}, 4);
  bad_stop.stop.stop_token_ids = {-1};
  expect(bad_stop, "stop_token_ids");
}

TEST_P(EngineTest, FullQueueRejectsWithoutBlocking) {
  auto engine = MakeEngine({.block_size = 16, .session_len = 256, .max_batch_size = 1},
                           EngineConfig{.max_queued_requests = 2, .max_queued_tokens = 1000});
  int rejected = 0;
  std::vector<std::shared_ptr<OutputChannel>> accepted;
  for (int i = 0; i < 50; ++i) {
    auto channel = engine->Submit(Greedy({1, 2, 3}, 100));
    if (channel.ok()) {
      accepted.push_back(*channel);
    } else {
      EXPECT_EQ(channel.status().code(), absl::StatusCode::kResourceExhausted);
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
  for (auto& c : accepted) c->Cancel();
  for (auto& c : accepted) Drain(*c);
}

TEST_P(EngineTest, QueuedRequestPastItsDeadlineFails) {
  auto engine = MakeEngine({.block_size = 16, .session_len = 256, .max_batch_size = 1});
  Request r = Greedy({1, 2, 3}, 4);
  r.deadline = absl::Now() - absl::Seconds(1);
  auto channel = engine->Submit(r);
  ASSERT_TRUE(channel.ok());
  Outcome out = Drain(**channel);
  EXPECT_EQ(out.final.status.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_P(EngineTest, DestroyingTheEngineCancelsWhatIsInFlight) {
  std::shared_ptr<OutputChannel> channel;
  {
    auto engine = MakeEngine({.block_size = 16, .session_len = 256, .max_batch_size = 1});
    auto c = engine->Submit(Greedy({1, 2, 3}, 200));
    ASSERT_TRUE(c.ok());
    channel = *c;
  }
  Outcome out = Drain(*channel);
  EXPECT_TRUE(out.final.finished);
}

// --- Stateful sessions --------------------------------------------------------------

Request Turn(const std::string& session, std::vector<int32_t> prompt, int max_tokens) {
  Request r;
  r.session_id = session;
  r.prompt_ids = std::move(prompt);
  r.sampling.temperature = 0.0f;
  r.stop.max_tokens = max_tokens;
  r.stop.ignore_eos = true;
  return r;
}

std::vector<int32_t> Concat(std::initializer_list<std::vector<int32_t>> parts) {
  std::vector<int32_t> all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

TEST_P(EngineTest, SessionTurnPrefillsOnlyTheNewTokens) {
  auto engine = MakeEngine({.block_size = 8, .session_len = 256, .num_blocks = 64},
                           EngineConfig{.enable_prefix_caching = false});
  std::mt19937 rng(11);
  const std::vector<int32_t> a = RandomPrompt(rng, 30), b = RandomPrompt(rng, 10);

  auto first = engine->Submit(Turn("s", a, 8));
  ASSERT_TRUE(first.ok()) << first.status();
  Outcome one = Drain(**first);
  ASSERT_TRUE(one.final.status.ok()) << one.final.status;
  EXPECT_EQ(one.ids, Solo(a, 8));
  EXPECT_EQ(one.final.usage.cached_prompt_tokens, 0);
  EXPECT_EQ(engine->stats().num_sessions, 1);
  EXPECT_GT(engine->stats().num_blocks_active, 0);  // the session's KV stays resident

  auto second = engine->Submit(Turn("s", b, 8));
  ASSERT_TRUE(second.ok());
  Outcome two = Drain(**second);
  ASSERT_TRUE(two.final.status.ok()) << two.final.status;
  EXPECT_EQ(two.ids, Solo(Concat({a, one.ids, b}), 8));
  // The model saw both turns; only turn one's last token (sampled, never run) and the
  // new prompt were computed.
  EXPECT_EQ(two.final.usage.prompt_tokens, 30 + 8 + 10);
  EXPECT_EQ(two.final.usage.cached_prompt_tokens, 30 + 8 - 1);
  EXPECT_EQ(two.final.usage.completion_tokens, 8);

  Request end;
  end.session_id = "s";
  end.end_session = true;
  auto ended = engine->Submit(end);
  ASSERT_TRUE(ended.ok()) << ended.status();
  Outcome closed = Drain(**ended);
  EXPECT_TRUE(closed.final.finished);
  EXPECT_TRUE(closed.ids.empty());
  const EngineStats stats = engine->stats();
  EXPECT_EQ(stats.num_sessions, 0);
  EXPECT_EQ(stats.num_blocks_active, 0);
}

TEST_P(EngineTest, SessionTurnEndedByAStopTokenContinuesExactly) {
  // Under async scheduling the step after the stop token has already written into the
  // session's blocks when the turn ends; the next turn must not see it.
  auto engine = MakeEngine({.block_size = 8, .session_len = 256, .num_blocks = 64},
                           EngineConfig{.enable_prefix_caching = false});
  std::mt19937 rng(15);
  const std::vector<int32_t> a = RandomPrompt(rng, 21), b = RandomPrompt(rng, 6);
  const std::vector<int32_t> solo = Solo(a, 12);
  Request first_turn = Turn("s", a, 12);
  first_turn.stop.stop_token_ids = {solo[5]};
  auto first = engine->Submit(first_turn);
  ASSERT_TRUE(first.ok()) << first.status();
  Outcome one = Drain(**first);
  ASSERT_TRUE(one.final.status.ok()) << one.final.status;
  EXPECT_EQ(one.ids, ThroughFirst(solo, solo[5]));

  auto second = engine->Submit(Turn("s", b, 8));
  ASSERT_TRUE(second.ok());
  Outcome two = Drain(**second);
  ASSERT_TRUE(two.final.status.ok()) << two.final.status;
  EXPECT_EQ(two.ids, Solo(Concat({a, one.ids, b}), 8));
  EXPECT_EQ(two.final.usage.cached_prompt_tokens, static_cast<int>(a.size() + one.ids.size()) - 1);
}

TEST_P(EngineTest, EvictedSessionRecomputesWithTheSameOutput) {
  // 12 blocks of 8 tokens; the other requests need them all, so the idle session's
  // KV is evicted rather than anything preempted.
  auto engine =
      MakeEngine({.block_size = 8, .session_len = 96, .max_batch_size = 4, .num_blocks = 12},
                 EngineConfig{.enable_prefix_caching = false});
  std::mt19937 rng(12);
  const std::vector<int32_t> a = RandomPrompt(rng, 20), b = RandomPrompt(rng, 6);
  auto first = engine->Submit(Turn("s", a, 6));
  ASSERT_TRUE(first.ok());
  Outcome one = Drain(**first);
  ASSERT_TRUE(one.final.status.ok()) << one.final.status;

  auto other = engine->Submit(Greedy(RandomPrompt(rng, 60), 30));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(Drain(**other).final.status.ok());
  EXPECT_GT(engine->stats().num_session_evictions, 0);
  EXPECT_EQ(engine->stats().num_preemptions, 0);

  auto second = engine->Submit(Turn("s", b, 6));
  ASSERT_TRUE(second.ok());
  Outcome two = Drain(**second);
  ASSERT_TRUE(two.final.status.ok()) << two.final.status;
  EXPECT_EQ(two.ids, Solo(Concat({a, one.ids, b}), 6));
  EXPECT_EQ(two.final.usage.cached_prompt_tokens, 0);  // all recomputed
}

TEST_P(EngineTest, SessionKvEvictedToAPrefixCacheIsTakenBack) {
  auto engine =
      MakeEngine({.block_size = 8, .session_len = 96, .max_batch_size = 4, .num_blocks = 12});
  std::mt19937 rng(13);
  const std::vector<int32_t> a = RandomPrompt(rng, 20), b = RandomPrompt(rng, 6);
  auto first = engine->Submit(Turn("s", a, 6));
  ASSERT_TRUE(first.ok());
  Outcome one = Drain(**first);
  // Just enough pressure to evict the session but not to reuse all its cached blocks.
  auto other = engine->Submit(Greedy(RandomPrompt(rng, 40), 30));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(Drain(**other).final.status.ok());
  EXPECT_GT(engine->stats().num_session_evictions, 0);
  auto second = engine->Submit(Turn("s", b, 6));
  ASSERT_TRUE(second.ok());
  Outcome two = Drain(**second);
  ASSERT_TRUE(two.final.status.ok()) << two.final.status;
  EXPECT_EQ(two.ids, Solo(Concat({a, one.ids, b}), 6));
  EXPECT_EQ(two.final.usage.cached_prompt_tokens % 8, 0);  // whole blocks from the cache
}

TEST_P(EngineTest, SessionTurnThatNeverRanLeavesTheSessionAsItWas) {
  auto engine = MakeEngine({.block_size = 8, .session_len = 256, .num_blocks = 64});
  std::mt19937 rng(14);
  const std::vector<int32_t> a = RandomPrompt(rng, 12), b = RandomPrompt(rng, 9);
  auto first = engine->Submit(Turn("s", a, 5));
  ASSERT_TRUE(first.ok());
  Outcome one = Drain(**first);

  Request late = Turn("s", RandomPrompt(rng, 7), 5);
  late.deadline = absl::Now() - absl::Seconds(1);
  auto failed = engine->Submit(late);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(Drain(**failed).final.status.code(), absl::StatusCode::kDeadlineExceeded);

  auto second = engine->Submit(Turn("s", b, 5));
  ASSERT_TRUE(second.ok());
  Outcome two = Drain(**second);
  ASSERT_TRUE(two.final.status.ok()) << two.final.status;
  EXPECT_EQ(two.ids, Solo(Concat({a, one.ids, b}), 5));
  EXPECT_EQ(two.final.usage.prompt_tokens, 12 + 5 + 9);
}

TEST_P(EngineTest, SessionRejectsConcurrentTurnsAndTooLongHistories) {
  auto engine = MakeEngine({.block_size = 8, .session_len = 64, .num_blocks = 64},
                           EngineConfig{.max_sessions = 1});
  auto busy = engine->Submit(Turn("s", {1, 2, 3}, 40));
  ASSERT_TRUE(busy.ok());
  auto concurrent = engine->Submit(Turn("s", {4, 5}, 4));
  ASSERT_TRUE(concurrent.ok());
  Outcome refused = Drain(**concurrent);
  EXPECT_EQ(refused.final.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.final.status.message().find("session_id"), std::string::npos);
  auto full = engine->Submit(Turn("t", {4, 5}, 4));  // max_sessions = 1
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(Drain(**full).final.status.code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(Drain(**busy).final.status.ok());

  // 3 + 40 tokens of history + 10 + 20 > session_len 64.
  auto too_long = engine->Submit(Turn("s", std::vector<int32_t>(10, 7), 20));
  ASSERT_TRUE(too_long.ok());
  Outcome over = Drain(**too_long);
  EXPECT_EQ(over.final.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(over.final.status.message().find("session_len 64"), std::string::npos)
      << over.final.status;

  Request no_session;
  no_session.end_session = true;
  auto invalid = engine->Submit(no_session);
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.status().message().find("end_session"), std::string::npos);
}

TEST_P(EngineTest, EndSessionWithTheLastTurnFreesItsBlocks) {
  auto engine = MakeEngine({.block_size = 8, .session_len = 256, .num_blocks = 64},
                           EngineConfig{.enable_prefix_caching = false});
  auto first = engine->Submit(Turn("s", {1, 2, 3, 4, 5}, 6));
  ASSERT_TRUE(first.ok());
  Drain(**first);
  Request last = Turn("s", {6, 7}, 6);
  last.end_session = true;
  auto second = engine->Submit(last);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(Drain(**second).final.status.ok());
  EXPECT_EQ(engine->stats().num_sessions, 0);
  EXPECT_EQ(engine->stats().num_blocks_active, 0);
}

}  // namespace
}  // namespace loom
