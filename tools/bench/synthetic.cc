#include "tools/bench/synthetic.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "tools/bench/random.h"

namespace loom::bench {
namespace {

int ClippedLength(BenchRandom& rng, double mu, double sigma, const SynthLengthSpec& spec) {
  // Clip before converting: a lognormal draw can exceed INT64_MAX in principle.
  const double x = std::clamp(rng.Lognormal(mu, sigma), 0.0, static_cast<double>(spec.max_len));
  return std::clamp(static_cast<int>(std::lround(x)), spec.min_len, spec.max_len);
}

absl::Status CheckArgs(int num_prompts, const SynthModelLimits& limits) {
  if (num_prompts < 1) return absl::InvalidArgumentError("--num-prompts must be >= 1");
  const auto excluded_below_limit =
      std::lower_bound(limits.excluded_ids.begin(), limits.excluded_ids.end(),
                       limits.prompt_id_limit) -
      limits.excluded_ids.begin();
  if (limits.prompt_id_limit - excluded_below_limit < 1) {
    return absl::InvalidArgumentError("the model's vocabulary has no ordinary token");
  }
  if (limits.session_len < 8) {
    return absl::InvalidArgumentError("session_len must be >= 8 for a synthetic workload");
  }
  return absl::OkStatus();
}

// Fills each request's prompt with random ids, in request order.
RequestSet WithRandomPrompts(const char* workload, uint64_t seed, const SynthModelLimits& limits,
                             const std::vector<SynthLengths>& lengths) {
  BenchRandom rng(seed ^ kPromptIdStream);
  RequestSet set{.workload = workload, .seed = seed};
  set.requests.reserve(lengths.size());
  for (const SynthLengths& l : lengths) {
    BenchRequest request{.output_len = l.output_len};
    request.prompt_ids.reserve(l.prompt_len);
    for (int i = 0; i < l.prompt_len; ++i) {
      int32_t id;
      do {
        id = static_cast<int32_t>(rng.Below(limits.prompt_id_limit));
      } while (std::binary_search(limits.excluded_ids.begin(), limits.excluded_ids.end(), id));
      request.prompt_ids.push_back(id);
    }
    set.requests.push_back(std::move(request));
  }
  return set;
}

}  // namespace

std::vector<SynthLengths> ShareGptSynthLengths(int num_prompts, uint64_t seed, int max_total_len,
                                               const SynthLengthSpec& spec) {
  const int total = std::min(spec.max_total_len, max_total_len);
  BenchRandom rng(seed);
  std::vector<SynthLengths> lengths;
  lengths.reserve(num_prompts);
  for (int i = 0; i < num_prompts; ++i) {
    SynthLengths l;
    l.prompt_len = ClippedLength(rng, spec.prompt_mu, spec.prompt_sigma, spec);
    l.output_len = ClippedLength(rng, spec.output_mu, spec.output_sigma, spec);
    if (l.prompt_len + l.output_len > total) {
      l.output_len = std::max(spec.min_len, total - l.prompt_len);
      l.prompt_len = total - l.output_len;
    }
    lengths.push_back(l);
  }
  return lengths;
}

SynthLengths LatencyLengths(int session_len) {
  constexpr int kPrompt = 224;
  constexpr int kOutput = 200;
  if (session_len >= kPrompt + kOutput) return {.prompt_len = kPrompt, .output_len = kOutput};
  const int prompt = std::max(1, session_len * kPrompt / (kPrompt + kOutput));
  return {.prompt_len = prompt, .output_len = session_len - prompt};
}

absl::StatusOr<RequestSet> MakeShareGptSynth(int num_prompts, uint64_t seed,
                                             const SynthModelLimits& limits) {
  if (auto status = CheckArgs(num_prompts, limits); !status.ok()) return status;
  return WithRandomPrompts("sharegpt-synth", seed, limits,
                           ShareGptSynthLengths(num_prompts, seed, limits.session_len));
}

absl::StatusOr<RequestSet> MakeLatency(int num_prompts, uint64_t seed,
                                       const SynthModelLimits& limits) {
  if (auto status = CheckArgs(num_prompts, limits); !status.ok()) return status;
  // Each request has a prompt of its own, so the prefix cache never serves one from
  // another.
  return WithRandomPrompts(
      "latency", seed, limits,
      std::vector<SynthLengths>(num_prompts, LatencyLengths(limits.session_len)));
}

}  // namespace loom::bench
