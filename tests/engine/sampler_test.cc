#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

namespace loom {
namespace {

TEST(SamplerTest, GreedyPicksArgmaxAndLowestIdOnTies) {
  Sampler sampler(SamplingParams{.temperature = 0.0f});
  EXPECT_EQ(sampler.Sample(std::vector<float>{0.1f, 2.0f, -1.0f, 1.9f}), 1);
  EXPECT_EQ(sampler.Sample(std::vector<float>{3.0f, 1.0f, 3.0f}), 0);
}

TEST(SamplerTest, SameSeedSameDrawsDifferentSeedDifferentDraws) {
  std::vector<float> logits(50);
  for (int i = 0; i < 50; ++i) logits[i] = std::sin(i * 0.7f);
  auto draw = [&](uint64_t seed) {
    Sampler s(SamplingParams{.temperature = 1.0f, .seed = seed});
    std::vector<int32_t> out;
    for (int i = 0; i < 40; ++i) out.push_back(s.Sample(logits));
    return out;
  };
  EXPECT_EQ(draw(7), draw(7));
  EXPECT_NE(draw(7), draw(8));
}

TEST(SamplerTest, TopKOneIsGreedy) {
  Sampler sampler(SamplingParams{.temperature = 5.0f, .top_k = 1, .seed = 3});
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(sampler.Sample(std::vector<float>{0.0f, 0.5f, 0.4f}), 1);
  }
}

TEST(SamplerTest, TopKRestrictsToTheKLargest) {
  Sampler sampler(SamplingParams{.temperature = 1.0f, .top_k = 2, .seed = 11});
  const std::vector<float> logits = {1.0f, 0.0f, 1.2f, 0.9f, -3.0f};
  for (int i = 0; i < 200; ++i) {
    const int32_t id = sampler.Sample(logits);
    EXPECT_TRUE(id == 0 || id == 2) << id;
  }
}

TEST(SamplerTest, TopPKeepsTheNucleus) {
  // Probabilities about 0.64, 0.24, 0.09, 0.03: top_p 0.8 keeps the first two.
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f, -1.0f};
  Sampler sampler(SamplingParams{.temperature = 1.0f, .top_p = 0.8f, .seed = 5});
  std::map<int32_t, int> counts;
  for (int i = 0; i < 2000; ++i) ++counts[sampler.Sample(logits)];
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
    for (int i = 0; i < 4000; ++i) zeros += s.Sample(logits) == 0;
    return zeros / 4000.0;
  };
  // softmax([1, 0] / T)[0]: T = 1 -> 0.731, T = 0.25 -> 0.982
  EXPECT_NEAR(frequency_of_zero(1.0f), 0.731, 0.03);
  EXPECT_NEAR(frequency_of_zero(0.25f), 0.982, 0.01);
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
  EXPECT_TRUE(ValidateSamplingParams(SamplingParams{}).ok());
}

}  // namespace
}  // namespace loom
