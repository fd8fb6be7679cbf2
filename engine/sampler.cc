#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "kernels/check.h"

namespace loom {
namespace {

absl::Status Invalid(const char* field, const std::string& rule, double value) {
  return absl::InvalidArgumentError(absl::StrCat(field, " must be ", rule, ", got ", value));
}

}  // namespace

absl::Status ValidateSamplingParams(const SamplingParams& p) {
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f) {
    return Invalid("temperature", ">= 0", p.temperature);
  }
  if (p.top_k < 0) return Invalid("top_k", ">= 0", p.top_k);
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return Invalid("top_p", "in (0, 1]", p.top_p);
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return Invalid("min_p", "in [0, 1]", p.min_p);
  if (!std::isfinite(p.repetition_penalty) || p.repetition_penalty <= 0.0f) {
    return Invalid("repetition_penalty", "> 0", p.repetition_penalty);
  }
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f)) {
    return Invalid("presence_penalty", "in [-2, 2]", p.presence_penalty);
  }
  if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f)) {
    return Invalid("frequency_penalty", "in [-2, 2]", p.frequency_penalty);
  }
  if (p.logprobs < 0 || p.logprobs > kMaxLogprobs) {
    return Invalid("logprobs", absl::StrCat("in [0, ", kMaxLogprobs, "]"), p.logprobs);
  }
  return absl::OkStatus();
}

Sampler::Sampler(const SamplingParams& params, std::span<const int32_t> prompt_ids)
    : params_(params), rng_(params.seed.has_value() ? *params.seed : std::random_device{}()) {
  LOOM_CHECK(ValidateSamplingParams(params).ok());
  if (params_.repetition_penalty != 1.0f) {
    for (int32_t id : prompt_ids) ++prompt_counts_[id];
  }
}

double Sampler::NextUniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

bool Sampler::SamplesOnDevice() const {
  return !HasPenalties() && params_.min_p == 0.0f && params_.logprobs == 0;
}

float Sampler::NextDeviceUniform() {
  if (params_.temperature == 0.0f) return 0.0f;
  // Rounding to float may reach 1.0; the draw needs [0, 1).
  return std::min(static_cast<float>(NextUniform()), std::nextafter(1.0f, 0.0f));
}

bool Sampler::HasPenalties() const {
  return params_.repetition_penalty != 1.0f || params_.presence_penalty != 0.0f ||
         params_.frequency_penalty != 0.0f;
}

void Sampler::ApplyPenalties(std::span<const float> logits) {
  scratch_.assign(logits.begin(), logits.end());
  const int32_t vocab = static_cast<int32_t>(scratch_.size());
  auto repeat = [&](int32_t id) {
    float& x = scratch_[id];
    x = x > 0.0f ? x / params_.repetition_penalty : x * params_.repetition_penalty;
  };
  if (params_.repetition_penalty != 1.0f) {
    for (const auto& [id, count] : prompt_counts_) {
      if (id >= 0 && id < vocab && !output_counts_.contains(id)) repeat(id);
    }
  }
  for (const auto& [id, count] : output_counts_) {
    if (id < 0 || id >= vocab) continue;
    if (params_.repetition_penalty != 1.0f) repeat(id);
    scratch_[id] -= params_.presence_penalty + params_.frequency_penalty * count;
  }
}

SampledToken Sampler::Sample(std::span<const float> logits) {
  LOOM_CHECK(!logits.empty());
  std::span<const float> effective = logits;
  if (HasPenalties()) {
    ApplyPenalties(logits);
    effective = scratch_;
  }
  SampledToken token;
  token.id = Draw(effective);
  FillLogprobs(logits, token);
  if (HasPenalties()) ++output_counts_[token.id];
  return token;
}

int32_t Sampler::Draw(std::span<const float> logits) {
  const int32_t vocab = static_cast<int32_t>(logits.size());
  if (params_.temperature == 0.0f) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }

  // Candidates sorted by logit, descending; ties keep the lower id first.
  order_.resize(vocab);
  std::iota(order_.begin(), order_.end(), 0);
  const int32_t k = params_.top_k > 0 ? std::min(params_.top_k, vocab) : vocab;
  auto by_logit = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), by_logit);
  order_.resize(k);

  // Softmax of logit / temperature over the candidates, in double. probs_[0] is the
  // largest, exp(0) = 1, which is what min_p compares against.
  probs_.resize(k);
  const double max_logit = logits[order_[0]];
  double total = 0.0;
  int32_t keep = k;
  for (int32_t i = 0; i < k; ++i) {
    probs_[i] = std::exp((logits[order_[i]] - max_logit) / params_.temperature);
    if (params_.min_p > 0.0f && probs_[i] < params_.min_p) {
      keep = i;  // sorted, so every later candidate is below min_p too
      break;
    }
    total += probs_[i];
  }

  // Nucleus: the shortest prefix whose mass reaches top_p (at least one token).
  if (params_.top_p < 1.0f) {
    double mass = 0.0;
    for (int32_t i = 0; i < keep; ++i) {
      mass += probs_[i] / total;
      if (mass >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double kept_total = 0.0;
  for (int32_t i = 0; i < keep; ++i) kept_total += probs_[i];

  const double target = NextUniform() * kept_total;
  double cumulative = 0.0;
  for (int32_t i = 0; i < keep; ++i) {
    cumulative += probs_[i];
    if (target < cumulative) return order_[i];
  }
  return order_[keep - 1];
}

void Sampler::FillLogprobs(std::span<const float> logits, SampledToken& token) const {
  // log_softmax in double: log p(i) = x_i - max - log(sum exp(x - max)).
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - max_logit);
  const double log_sum = std::log(sum);
  auto logprob = [&](int32_t id) {
    return static_cast<float>(static_cast<double>(logits[id]) - max_logit - log_sum);
  };
  token.logprob = logprob(token.id);
  if (params_.logprobs == 0) return;
  const int32_t n = std::min<int32_t>(params_.logprobs, static_cast<int32_t>(logits.size()));
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + n, ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  for (int32_t i = 0; i < n; ++i) token.top_logprobs.emplace_back(ids[i], logprob(ids[i]));
}

}  // namespace loom
