#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

namespace loom {
namespace {

TEST(SamplerTest, GreedyPicksArgmaxAndLowestIdOnTies) {
  Sampler sampler(SamplingParams{.temperature = 0.0f});
  EXPECT_EQ(sampler.Sample(std::vector<float>{0.1f, 2.0f, -1.0f, 1.9f}).id, 1);
  EXPECT_EQ(sampler.Sample(std::vector<float>{3.0f, 1.0f, 3.0f}).id, 0);
}

TEST(SamplerTest, SameSeedSameDrawsDifferentSeedDifferentDraws) {
  std::vector<float> logits(50);
  for (int i = 0; i < 50; ++i) logits[i] = std::sin(i * 0.7f);
  auto draw = [&](uint64_t seed) {
    Sampler s(SamplingParams{.temperature = 1.0f, .seed = seed});
    std::vector<int32_t> out;
    for (int i = 0; i < 40; ++i) out.push_back(s.Sample(logits).id);
    return out;
  };
  EXPECT_EQ(draw(7), draw(7));
  EXPECT_NE(draw(7), draw(8));
}

TEST(SamplerTest, TopKOneIsGreedy) {
  Sampler sampler(SamplingParams{.temperature = 5.0f, .top_k = 1, .seed = 3});
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(sampler.Sample(std::vector<float>{0.0f, 0.5f, 0.4f}).id, 1);
  }
}

TEST(SamplerTest, TopKRestrictsToTheKLargest) {
  Sampler sampler(SamplingParams{.temperature = 1.0f, .top_k = 2, .seed = 11});
  const std::vector<float> logits = {1.0f, 0.0f, 1.2f, 0.9f, -3.0f};
  for (int i = 0; i < 200; ++i) {
    const int32_t id = sampler.Sample(logits).id;
    EXPECT_TRUE(id == 0 || id == 2) << id;
  }
}

TEST(SamplerTest, TopPKeepsTheNucleus) {
  // Probabilities about 0.64, 0.24, 0.09, 0.03: top_p 0.8 keeps the first two.
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f, -1.0f};
  Sampler sampler(SamplingParams{.temperature = 1.0f, .top_p = 0.8f, .seed = 5});
  std::map<int32_t, int> counts;
  for (int i = 0; i < 2000; ++i) ++counts[sampler.Sample(logits).id];
  EXPECT_EQ(counts.count(2), 0u);
  EXPECT_EQ(counts.count(3), 0u);
  // Renormalized: 0.64 / 0.88 = 0.73 of draws are id 0.
  EXPECT_NEAR(counts[0] / 2000.0, 0.727, 0.04);
}

TEST(SamplerTest, TemperatureSharpensTheDistribution) {
  const std::vector<float> logits = {1.0f, 0.0f};
  auto frequency_of_zero = [&](float temperature) {
    Sampler s(SamplingParams{.temperature = temperature, .seed = 99});
    int zeros = 0;
    for (int i = 0; i < 4000; ++i) zeros += s.Sample(logits).id == 0;
    return zeros / 4000.0;
  };
  // softmax([1, 0] / T)[0]: T = 1 -> 0.731, T = 0.25 -> 0.982
  EXPECT_NEAR(frequency_of_zero(1.0f), 0.731, 0.03);
  EXPECT_NEAR(frequency_of_zero(0.25f), 0.982, 0.01);
}

TEST(SamplerTest, MinPDropsUnlikelyTokens) {
  // Probabilities relative to the best: 1, e^-1 = 0.37, e^-3 = 0.05.
  const std::vector<float> logits = {3.0f, 2.0f, 0.0f};
  Sampler sampler(SamplingParams{.temperature = 1.0f, .min_p = 0.2f, .seed = 1});
  std::map<int32_t, int> counts;
  for (int i = 0; i < 1000; ++i) ++counts[sampler.Sample(logits).id];
  EXPECT_EQ(counts.count(2), 0u);
  EXPECT_GT(counts[1], 100);
}

TEST(SamplerTest, RepetitionPenaltyCoversPromptAndOutput) {
  // Token 1 is in the prompt: 2.0 / 4 = 0.5 falls below token 2's 1.0.
  const std::vector<float> logits = {-1.0f, 2.0f, 1.0f, 0.9f};
  Sampler sampler(SamplingParams{.temperature = 0.0f, .repetition_penalty = 4.0f},
                  std::vector<int32_t>{1, 1});
  EXPECT_EQ(sampler.Sample(logits).id, 2);
  // Now token 2 is in the output too: 1.0 / 4 = 0.25 < 0.9.
  EXPECT_EQ(sampler.Sample(logits).id, 3);
  // Everything seen is penalized now (3: 0.9 / 4); token 0's negative logit is
  // multiplied, so it stays last, and token 1 (2.0 / 4 = 0.5) wins.
  EXPECT_EQ(sampler.Sample(logits).id, 1);
}

TEST(SamplerTest, PresenceAndFrequencyPenaltiesCoverOutputOnly) {
  const std::vector<float> logits = {1.0f, 0.5f, 0.0f};
  // Token 0 in the prompt is not penalized by presence/frequency.
  Sampler presence(SamplingParams{.temperature = 0.0f, .presence_penalty = 0.6f},
                   std::vector<int32_t>{0});
  EXPECT_EQ(presence.Sample(logits).id, 0);  // 1.0
  EXPECT_EQ(presence.Sample(logits).id, 1);  // 0.4 < 0.5
  // Frequency grows with each occurrence: 1.0 - 0.3 n.
  Sampler frequency(SamplingParams{.temperature = 0.0f, .frequency_penalty = 0.3f});
  EXPECT_EQ(frequency.Sample(logits).id, 0);  // 1.0
  EXPECT_EQ(frequency.Sample(logits).id, 0);  // 0.7
  EXPECT_EQ(frequency.Sample(logits).id, 1);  // 0.4 < 0.5
}

TEST(SamplerTest, LogprobsAreThoseOfTheRawDistribution) {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f, -1.0f};
  Sampler sampler(SamplingParams{.temperature = 0.0f, .repetition_penalty = 2.0f, .logprobs = 2});
  const SampledToken t = sampler.Sample(logits);
  double z = 0;
  for (float x : logits) z += std::exp(x);
  EXPECT_EQ(t.id, 2);
  EXPECT_NEAR(t.logprob, 2.0 - std::log(z), 1e-6);
  ASSERT_EQ(t.top_logprobs.size(), 2u);
  EXPECT_EQ(t.top_logprobs[0].first, 2);
  EXPECT_EQ(t.top_logprobs[1].first, 1);
  EXPECT_NEAR(t.top_logprobs[1].second, 1.0 - std::log(z), 1e-6);
  EXPECT_TRUE(Sampler(SamplingParams{.temperature = 0.0f}).Sample(logits).top_logprobs.empty());
}

TEST(SamplerTest, ValidationNamesTheField) {
  auto status = ValidateSamplingParams(SamplingParams{.temperature = -1.0f});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("temperature"), std::string::npos);
  status = ValidateSamplingParams(SamplingParams{.top_k = -2});
  EXPECT_NE(status.message().find("top_k"), std::string::npos);
  status = ValidateSamplingParams(SamplingParams{.top_p = 0.0f});
  EXPECT_NE(status.message().find("top_p"), std::string::npos);
  status = ValidateSamplingParams(SamplingParams{.top_p = 1.5f});
  EXPECT_NE(status.message().find("top_p"), std::string::npos);
  status = ValidateSamplingParams(SamplingParams{.temperature = NAN});
  EXPECT_NE(status.message().find("temperature"), std::string::npos);
  for (auto [params, field] : std::vector<std::pair<SamplingParams, std::string>>{
           {SamplingParams{.min_p = 1.5f}, "min_p"},
           {SamplingParams{.repetition_penalty = 0.0f}, "repetition_penalty"},
           {SamplingParams{.presence_penalty = 3.0f}, "presence_penalty"},
           {SamplingParams{.frequency_penalty = -2.5f}, "frequency_penalty"},
           {SamplingParams{.logprobs = kMaxLogprobs + 1}, "logprobs"},
       }) {
    status = ValidateSamplingParams(params);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_NE(status.message().find(field), std::string::npos) << status;
  }
  EXPECT_TRUE(ValidateSamplingParams(SamplingParams{}).ok());
}

}  // namespace
}  // namespace loom
