// How a request picks each next token. The same names appear in the proto
// (SamplingParams), the model YAML defaults and the CLI flags.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/status/status.h"

namespace loom {

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy (argmax)
  int top_k = 0;             // 0 = off; else keep the k most likely tokens
  float top_p = 1.0f;        // keep the smallest set whose probability reaches top_p
  float min_p = 0.0f;        // drop tokens less likely than min_p * the most likely one
  // Penalties on tokens already seen. repetition_penalty (Hugging Face, 1 = off) covers
  // the prompt and the output: a positive logit is divided by it, a negative one
  // multiplied. presence_penalty and frequency_penalty (OpenAI, 0 = off) cover the
  // output only: each is subtracted once, or once per occurrence.
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int logprobs = 0;              // also return this many most likely alternatives per token
  std::optional<uint64_t> seed;  // fixed seed: the same output on every run
};

// The most alternatives `logprobs` may ask for.
inline constexpr int kMaxLogprobs = 20;

// InvalidArgument naming the field: temperature finite and >= 0; top_k >= 0; top_p in
// (0, 1]; min_p in [0, 1]; repetition_penalty finite and > 0; presence_penalty and
// frequency_penalty finite, in [-2, 2]; logprobs in [0, kMaxLogprobs].
absl::Status ValidateSamplingParams(const SamplingParams& params);

}  // namespace loom
