// How a request picks each next token. The same names appear in the proto
// (SamplingParams), the model YAML defaults and the CLI flags.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/status/status.h"

namespace loom {

struct SamplingParams {
  float temperature = 1.0f;      // 0 = greedy (argmax)
  int top_k = 0;                 // 0 = off; else keep the k most likely tokens
  float top_p = 1.0f;            // keep the smallest set whose probability reaches top_p
  std::optional<uint64_t> seed;  // fixed seed: the same output on every run
};

// InvalidArgument naming the field: temperature must be finite and >= 0, top_k >= 0,
// top_p in (0, 1].
absl::Status ValidateSamplingParams(const SamplingParams& params);

}  // namespace loom
