// The synthetic workloads of ../shared/BENCHMARK.md: random prompts of set lengths.
//
// sharegpt-synth: prompt lengths lognormal(4.97, 1.0) and output lengths
// lognormal(4.92, 0.9), each rounded to the nearest integer and clipped to [4, 1024],
// prompt + output <= 2048 (means near 224 in, 200 out, like ShareGPT).
// latency: every request has a 224-token prompt and 200 output tokens.
//
// A request set depends only on the seed, the count and the two model limits below, never
// on the machine (tools/bench/random.h): the lengths come from one mt19937_64 seeded with
// `seed`, drawn request by request (prompt, then output), and the prompt ids from a second
// one seeded with `seed ^ kPromptIdStream`, so the lengths do not depend on the vocabulary.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/bench/request_set.h"

namespace loom::bench {

inline constexpr uint64_t kPromptIdStream = 0x9e3779b97f4a7c15;

struct SynthLengthSpec {
  double prompt_mu = 4.97;
  double prompt_sigma = 1.0;
  double output_mu = 4.92;
  double output_sigma = 0.9;
  int min_len = 4;
  int max_len = 1024;
  int max_total_len = 2048;
};

struct SynthLengths {
  int prompt_len = 0;
  int output_len = 0;
};

// What a synthetic set needs to know of the model.
struct SynthModelLimits {
  // Prompt ids are drawn uniformly from [0, prompt_id_limit), drawing again for an id in
  // `excluded_ids` (sorted: the special tokens, so prompts hold ordinary tokens only).
  int32_t prompt_id_limit = 0;
  std::vector<int32_t> excluded_ids;
  // The longest prompt + output the model takes (its session_len). Lengths over it are
  // cut down: the output first, to no less than min_len, then the prompt.
  int session_len = 0;
};

// The lengths of `num_prompts` sharegpt-synth requests, with prompt + output <=
// min(spec.max_total_len, max_total_len). REQUIRES: max_total_len >= 2 * spec.min_len.
std::vector<SynthLengths> ShareGptSynthLengths(int num_prompts, uint64_t seed, int max_total_len,
                                               const SynthLengthSpec& spec = {});

// The lengths of every latency request: 224 and 200, or, when session_len < 424, the
// same split scaled down to session_len.
SynthLengths LatencyLengths(int session_len);

// InvalidArgument when num_prompts < 1, no id in [0, prompt_id_limit) is left to draw,
// or session_len < 8.
absl::StatusOr<RequestSet> MakeShareGptSynth(int num_prompts, uint64_t seed,
                                             const SynthModelLimits& limits);
absl::StatusOr<RequestSet> MakeLatency(int num_prompts, uint64_t seed,
                                       const SynthModelLimits& limits);

}  // namespace loom::bench
