#include "engine/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace loom {
namespace {

ModelConfig Config(int head_dim, double theta) {
  ModelConfig config;
  config.head_dim = head_dim;
  config.rope_theta = theta;
  return config;
}

TEST(RopeTest, DefaultFrequencies) {
  auto f = ComputeRopeInvFreq(Config(8, 10000.0));
  ASSERT_EQ(f.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(f[i], 1.0 / std::pow(10000.0, 2.0 * i / 8));
}

TEST(RopeTest, LinearDividesByFactor) {
  ModelConfig config = Config(8, 10000.0);
  config.rope_scaling = {.type = RopeType::kLinear, .factor = 4.0};
  auto base = ComputeRopeInvFreq(Config(8, 10000.0));
  auto f = ComputeRopeInvFreq(config);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(f[i], base[i] / 4.0f);
}

TEST(RopeTest, DynamicScalesTheBase) {
  ModelConfig config = Config(8, 10000.0);
  config.rope_scaling = {.type = RopeType::kDynamic, .factor = 2.0};
  const double base = 10000.0 * std::pow(2.0 * 2.0 - 2.0 + 1.0, 8.0 / 6.0);
  auto f = ComputeRopeInvFreq(config);
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(f[i], 1.0 / std::pow(base, 2.0 * i / 8));
}

// Llama 3.1 (factor 8, low 1, high 4, original 8192): high frequencies are kept, low
// frequencies divided by 8, and the band between blended.
TEST(RopeTest, Llama3KeepsHighDividesLowBlendsMiddle) {
  ModelConfig config = Config(128, 500000.0);
  config.rope_scaling = {.type = RopeType::kLlama3,
                         .factor = 8.0,
                         .low_freq_factor = 1.0,
                         .high_freq_factor = 4.0,
                         .original_max_position_embeddings = 8192};
  auto base = ComputeRopeInvFreq(Config(128, 500000.0));
  auto f = ComputeRopeInvFreq(config);
  int kept = 0, divided = 0, blended = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    const double wavelen = 2 * std::numbers::pi / base[i];
    if (wavelen < 8192.0 / 4.0) {
      EXPECT_FLOAT_EQ(f[i], base[i]);
      ++kept;
    } else if (wavelen > 8192.0) {
      EXPECT_FLOAT_EQ(f[i], base[i] / 8.0f);
      ++divided;
    } else {
      EXPECT_LT(f[i], base[i]);
      EXPECT_GT(f[i], base[i] / 8.0f);
      ++blended;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(blended, 0);
}

}  // namespace
}  // namespace loom
