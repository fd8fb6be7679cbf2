#include "tests/engine/model_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace loom::testing {

nlohmann::json LoadTinyGolden() {
  std::ifstream in(std::filesystem::path(LOOM_SOURCE_DIR) / "tests" / "goldens" /
                   "tiny-shakespeare-llama.json");
  EXPECT_TRUE(in.good()) << "tests/goldens/tiny-shakespeare-llama.json is missing";
  return nlohmann::json::parse(in);
}

GreedyTrace RunGreedy(ModelRunner& runner, BlockPool& pool, std::span<const int32_t> prompt,
                      int steps) {
  const int block_size = runner.options().block_size;
  const int total = static_cast<int>(prompt.size()) + steps;
  auto blocks = pool.Allocate((total + block_size - 1) / block_size);
  EXPECT_TRUE(blocks.ok()) << blocks.status();
  GreedyTrace trace;
  std::vector<int32_t> tokens(prompt.begin(), prompt.end());
  int cached = 0;
  while (static_cast<int>(trace.ids.size()) < steps) {
    const int end = std::min<int>(tokens.size(), cached + runner.options().max_num_tokens);
    const bool last = end == static_cast<int>(tokens.size());
    ForwardBatch batch;
    batch.AddSequence(std::span<const int32_t>(tokens).subspan(cached, end - cached), cached,
                      *blocks, block_size, last);
    auto logits = runner.Forward(batch);
    EXPECT_TRUE(logits.ok()) << logits.status();
    if (!logits.ok()) break;
    cached = end;
    if (!last) continue;
    trace.logits.emplace_back(logits->begin(), logits->end());
    const int32_t next =
        static_cast<int32_t>(std::max_element(logits->begin(), logits->end()) - logits->begin());
    trace.ids.push_back(next);
    tokens.push_back(next);
  }
  pool.Release(*blocks);
  return trace;
}

double MaxRelativeError(std::span<const float> a, std::span<const double> b) {
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(a[i] - b[i]));
    max_ref = std::max(max_ref, std::abs(b[i]));
  }
  return max_diff / max_ref;
}

}  // namespace loom::testing
