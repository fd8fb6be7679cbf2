// Shared set-up for tests that run the bundled tiny model on the CPU backend.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "engine/block_pool.h"
#include "engine/model_runner.h"
#include "nlohmann/json.hpp"

namespace loom::testing {

inline std::filesystem::path BundledModelDir() {
  return std::filesystem::path(LOOM_SOURCE_DIR) / "models" / "tiny-shakespeare-llama";
}

// tests/goldens/tiny-shakespeare-llama.json, computed in float64 by transformers.
nlohmann::json LoadTinyGolden();

// A pool over the runner's whole KV pool, without prefix caching.
inline BlockPool PoolFor(const ModelRunner& runner) {
  return BlockPool(runner.options().num_blocks, runner.options().block_size,
                   /*enable_prefix_caching=*/false);
}

struct GreedyTrace {
  std::vector<int32_t> ids;
  std::vector<std::vector<float>> logits;  // [steps][vocab]: the logits each id came from
};

// Greedy decoding straight on the runner: prefill `prompt` in chunks of the runner's
// max_num_tokens, then `steps` - 1 single-token decodes. Blocks come from `pool` and go
// back to it.
GreedyTrace RunGreedy(ModelRunner& runner, BlockPool& pool, std::span<const int32_t> prompt,
                      int steps);

// max |a - b| / max |b|
double MaxRelativeError(std::span<const float> a, std::span<const double> b);

}  // namespace loom::testing
