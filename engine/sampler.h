// Picks the next token of one sequence from its logits.
//
// Each request owns a Sampler with its own random stream, seeded from the request, so
// its output depends only on its own logits and seed, never on which other requests
// share the batch.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "engine/sampling_params.h"

namespace loom {

class Sampler {
 public:
  // REQUIRES: ValidateSamplingParams(params).ok(). Without a seed, one is drawn from
  // std::random_device.
  explicit Sampler(const SamplingParams& params);

  // logits: [vocab] fp32. Greedy (temperature 0) returns the lowest index among the
  // maxima. Otherwise: divide by temperature, keep the top_k largest, softmax, keep the
  // top_p nucleus, renormalize and draw.
  int32_t Sample(std::span<const float> logits);

 private:
  // A uniform double in [0, 1) from the top 53 bits, identical on every platform.
  double NextUniform();

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<int32_t> order_;  // scratch: candidate ids
  std::vector<double> probs_;   // scratch: their probabilities
};

}  // namespace loom
