#include "tools/bench/synthetic.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

namespace loom::bench {
namespace {

constexpr SynthModelLimits kTiny{.prompt_id_limit = 2048, .session_len = 2048};

std::vector<std::pair<int, int>> Lengths(const RequestSet& set) {
  std::vector<std::pair<int, int>> lengths;
  for (const BenchRequest& r : set.requests) {
    lengths.emplace_back(static_cast<int>(r.prompt_ids.size()), r.output_len);
  }
  return lengths;
}

TEST(SyntheticTest, ShareGptSynthIsDeterministicForASeed) {
  auto a = MakeShareGptSynth(200, 0, kTiny);
  auto b = MakeShareGptSynth(200, 0, kTiny);
  auto c = MakeShareGptSynth(200, 1, kTiny);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(Lengths(*a), Lengths(*c));
  EXPECT_EQ(a->workload, "sharegpt-synth");
  EXPECT_EQ(a->seed, 0u);
  // A longer set starts with the shorter one.
  auto longer = MakeShareGptSynth(300, 0, kTiny);
  ASSERT_TRUE(longer.ok());
  EXPECT_TRUE(std::equal(a->requests.begin(), a->requests.end(), longer->requests.begin()));
}

// Hard-coded from this implementation (and reproduced by an independent Python
// mt19937_64 with the same formulas): a change of platform, libm or code that moves the
// seed-0 set shows up here. The 2000 seed-0 lengths average 227.7 in and 200.8 out.
TEST(SyntheticTest, SeedZeroGoldenLengths) {
  const std::vector<std::pair<int, int>> golden = {{260, 111}, {464, 44}, {712, 81}, {40, 72},
                                                   {80, 105},  {88, 277}, {254, 88}, {352, 169}};
  auto set = MakeShareGptSynth(static_cast<int>(golden.size()), 0, kTiny);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(Lengths(*set), golden);
  EXPECT_THAT(std::vector<int32_t>(set->requests[0].prompt_ids.begin(),
                                   set->requests[0].prompt_ids.begin() + 4),
              ::testing::ElementsAre(2016, 1456, 1190, 975));
}

TEST(SyntheticTest, LengthsFollowBenchmarkMd) {
  const std::vector<SynthLengths> lengths = ShareGptSynthLengths(2000, 0, 2048);
  ASSERT_EQ(lengths.size(), 2000u);
  double prompt_sum = 0, output_sum = 0;
  int clipped_high = 0;
  for (const SynthLengths& l : lengths) {
    ASSERT_GE(l.prompt_len, 4);
    ASSERT_LE(l.prompt_len, 1024);
    ASSERT_GE(l.output_len, 4);
    ASSERT_LE(l.output_len, 1024);
    ASSERT_LE(l.prompt_len + l.output_len, 2048);
    prompt_sum += l.prompt_len;
    output_sum += l.output_len;
    clipped_high += l.prompt_len == 1024;
  }
  // lognormal(4.97, 1.0) and lognormal(4.92, 0.9) clipped to [4, 1024]: about 225 and 201.
  EXPECT_NEAR(prompt_sum / 2000, 224, 15);
  EXPECT_NEAR(output_sum / 2000, 200, 15);
  EXPECT_GT(clipped_high, 0);  // ~2.5% of prompts reach the clip
}

TEST(SyntheticTest, ASmallerSessionCutsTheOutputFirst) {
  const std::vector<SynthLengths> full = ShareGptSynthLengths(2000, 0, 2048);
  const std::vector<SynthLengths> cut = ShareGptSynthLengths(2000, 0, 300);
  int changed = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    ASSERT_LE(cut[i].prompt_len + cut[i].output_len, 300);
    ASSERT_GE(cut[i].output_len, 4);
    ASSERT_GE(cut[i].prompt_len, 4);
    if (full[i].prompt_len + full[i].output_len <= 300) {
      EXPECT_EQ(cut[i].prompt_len, full[i].prompt_len);
      EXPECT_EQ(cut[i].output_len, full[i].output_len);
    } else if (full[i].prompt_len <= 296) {
      EXPECT_EQ(cut[i].prompt_len, full[i].prompt_len);
      EXPECT_EQ(cut[i].output_len, 300 - full[i].prompt_len);
      ++changed;
    } else {
      EXPECT_EQ(cut[i].prompt_len, 296);
      EXPECT_EQ(cut[i].output_len, 4);
      ++changed;
    }
  }
  EXPECT_GT(changed, 0);
}

TEST(SyntheticTest, PromptIdsStayBelowTheLimitAndLengthsIgnoreIt) {
  auto small = MakeShareGptSynth(50, 3, {.prompt_id_limit = 5, .session_len = 2048});
  auto large = MakeShareGptSynth(50, 3, {.prompt_id_limit = 128256, .session_len = 2048});
  ASSERT_TRUE(small.ok() && large.ok());
  EXPECT_EQ(Lengths(*small), Lengths(*large));
  std::set<int32_t> seen;
  for (const BenchRequest& r : small->requests)
    seen.insert(r.prompt_ids.begin(), r.prompt_ids.end());
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1, 2, 3, 4}));
  for (const BenchRequest& r : large->requests) {
    for (int32_t id : r.prompt_ids) ASSERT_LT(id, 128256);
  }
}

TEST(SyntheticTest, LatencyIs224In200OutWithDistinctPrompts) {
  auto set = MakeLatency(5, 0, kTiny);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->workload, "latency");
  std::set<std::vector<int32_t>> prompts;
  for (const BenchRequest& r : set->requests) {
    EXPECT_EQ(r.prompt_ids.size(), 224u);
    EXPECT_EQ(r.output_len, 200);
    prompts.insert(r.prompt_ids);
  }
  EXPECT_EQ(prompts.size(), 5u);

  const SynthLengths scaled = LatencyLengths(212);
  EXPECT_EQ(scaled.prompt_len, 112);
  EXPECT_EQ(scaled.output_len, 100);
}

TEST(SyntheticTest, BadArgumentsAreInvalid) {
  EXPECT_EQ(MakeShareGptSynth(0, 0, kTiny).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeLatency(1, 0, {.prompt_id_limit = 0, .session_len = 2048}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeShareGptSynth(1, 0, {.prompt_id_limit = 10, .session_len = 7}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SyntheticTest, SpecialTokensNeverAppearInPrompts) {
  // The tiny model's five special tokens sit at the top of its vocabulary.
  const SynthModelLimits limits{
      .prompt_id_limit = 2048, .excluded_ids = {2043, 2044, 2045, 2046, 2047}, .session_len = 2048};
  auto set = MakeShareGptSynth(200, 0, limits);
  ASSERT_TRUE(set.ok()) << set.status();
  size_t ids = 0;
  for (const BenchRequest& r : set->requests) {
    for (int32_t id : r.prompt_ids) EXPECT_LT(id, 2043);
    ids += r.prompt_ids.size();
  }
  EXPECT_GT(ids, 10000u);  // enough draws that a special id would have come up
  const SynthModelLimits all_special{
      .prompt_id_limit = 2, .excluded_ids = {0, 1}, .session_len = 2048};
  EXPECT_EQ(MakeShareGptSynth(1, 0, all_special).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace loom::bench
