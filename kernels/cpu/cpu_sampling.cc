// Device-style sampling on the CPU: the reference for the CUDA sampler (Backend::
// SampleTokens), in double. The engine's own CPU path is engine/sampler.cc; this one
// follows the backend contract, which draws over the kept tokens in id order.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/cpu/cpu_backend.h"

namespace loom {

void CpuBackend::SampleTokens(const Tensor& logits, const SamplingBatch& params, Tensor ids,
                              Tensor logprobs) {
  LOOM_CHECK(logits.dtype == DType::kF32 && ids.dtype == DType::kI32 &&
             logprobs.dtype == DType::kF32);
  const int64_t rows = logits.dim(0);
  const int32_t vocab = static_cast<int32_t>(logits.dim(1));
  LOOM_CHECK(ids.numel() == rows && logprobs.numel() == rows) << logits.ShapeString();
  std::vector<int32_t> order(vocab);
  std::vector<double> probs(vocab);
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = logits.as<float>() + r * vocab;
    const int32_t argmax = static_cast<int32_t>(std::max_element(x, x + vocab) - x);
    const double max_logit = x[argmax];
    double sum = 0.0;
    for (int32_t i = 0; i < vocab; ++i) sum += std::exp(x[i] - max_logit);

    int32_t pick = argmax;
    const float temperature = params.temperature.as<float>()[r];
    if (temperature > 0.0f) {
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(),
                [&](int32_t a, int32_t b) { return x[a] > x[b] || (x[a] == x[b] && a < b); });
      const int32_t top_k = params.top_k.as<int32_t>()[r];
      int32_t keep = top_k > 0 ? std::min(top_k, vocab) : vocab;
      double total = 0.0;
      for (int32_t i = 0; i < keep; ++i) {
        probs[i] = std::exp((x[order[i]] - max_logit) / temperature);
        total += probs[i];
      }
      const float top_p = params.top_p.as<float>()[r];
      if (top_p < 1.0f) {
        double mass = 0.0;
        for (int32_t i = 0; i < keep; ++i) {
          mass += probs[i];
          if (mass >= top_p * total) {
            keep = i + 1;
            break;
          }
        }
      }
      // The draw walks the kept tokens in id order.
      std::vector<std::pair<int32_t, double>> kept(keep);
      double kept_total = 0.0;
      for (int32_t i = 0; i < keep; ++i) {
        kept[i] = {order[i], probs[i]};
        kept_total += probs[i];
      }
      std::sort(kept.begin(), kept.end());
      const double target = params.uniform.as<float>()[r] * kept_total;
      double cumulative = 0.0;
      pick = kept.back().first;
      for (const auto& [id, p] : kept) {
        cumulative += p;
        if (target < cumulative) {
          pick = id;
          break;
        }
      }
    }
    ids.as<int32_t>()[r] = pick;
    logprobs.as<float>()[r] = static_cast<float>(x[pick] - max_logit - std::log(sum));
  }
}

}  // namespace loom
