// Picks the next token of one sequence from its logits.
//
// Each request owns a Sampler with its own random stream, seeded from the request, and
// its own token history, so its output depends only on its own logits, history and
// seed, never on which other requests share the batch.
//
// The order of operations follows vLLM: penalties, then temperature, then the top-k,
// top-p and min-p filters, then the draw (or argmax when temperature is 0). Log
// probabilities are those of the model's raw distribution, before any of them.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/sampling_params.h"

namespace loom {

struct SampledToken {
  int32_t id = 0;
  float logprob = 0.0f;  // log p(id) under the raw logits
  // The params.logprobs most likely tokens and their log probabilities, best first.
  std::vector<std::pair<int32_t, float>> top_logprobs;
};

class Sampler {
 public:
  // REQUIRES: ValidateSamplingParams(params).ok(). `prompt_ids` seed the history that
  // repetition_penalty covers. Without a seed, one is drawn from std::random_device.
  Sampler(const SamplingParams& params, std::span<const int32_t> prompt_ids = {});

  // logits: [vocab] fp32. Picks a token and adds it to the history. Greedy returns the
  // lowest index among the maxima of the penalized logits.
  SampledToken Sample(std::span<const float> logits);

  // The device sampler (Backend::SampleTokens) covers temperature, top_k and top_p. A
  // request with penalties, min_p or alternatives (logprobs > 0) is sampled here.
  bool SamplesOnDevice() const;
  // The uniform draw in [0, 1) the device sampler needs for the next token; consumes
  // the random stream as Sample would (nothing for greedy).
  float NextDeviceUniform();

 private:
  bool HasPenalties() const;
  // Copies `logits` into scratch_ with the penalties applied.
  void ApplyPenalties(std::span<const float> logits);
  int32_t Draw(std::span<const float> logits);
  void FillLogprobs(std::span<const float> logits, SampledToken& token) const;
  // A uniform double in [0, 1) from the top 53 bits, identical on every platform.
  double NextUniform();

  SamplingParams params_;
  std::mt19937_64 rng_;
  absl::flat_hash_map<int32_t, int> prompt_counts_;  // occurrences in the prompt
  absl::flat_hash_map<int32_t, int> output_counts_;  // occurrences in the output
  std::vector<float> scratch_;                       // penalized logits
  std::vector<int32_t> order_;                       // candidate ids
  std::vector<double> probs_;                        // their probabilities
};

}  // namespace loom
