#include "engine/rope.h"

#include <cmath>
#include <numbers>

namespace loom {

std::vector<float> ComputeRopeInvFreq(const ModelConfig& config) {
  const int dim = config.head_dim;
  const RopeScaling& scaling = config.rope_scaling;
  double base = config.rope_theta;
  if (scaling.type == RopeType::kDynamic) {
    const double f = scaling.factor;
    base *= std::pow(f * f - f + 1.0, static_cast<double>(dim) / (dim - 2));
  }
  std::vector<double> inv_freq(dim / 2);
  for (int i = 0; i < dim / 2; ++i) {
    inv_freq[i] = 1.0 / std::pow(base, static_cast<double>(2 * i) / dim);
  }
  if (scaling.type == RopeType::kLinear) {
    for (double& f : inv_freq) f /= scaling.factor;
  } else if (scaling.type == RopeType::kLlama3) {
    const double old_context = scaling.original_max_position_embeddings;
    const double low_freq_wavelen = old_context / scaling.low_freq_factor;
    const double high_freq_wavelen = old_context / scaling.high_freq_factor;
    for (double& f : inv_freq) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen > low_freq_wavelen) {
        f /= scaling.factor;
      } else if (wavelen >= high_freq_wavelen) {
        const double smooth = (old_context / wavelen - scaling.low_freq_factor) /
                              (scaling.high_freq_factor - scaling.low_freq_factor);
        f = (1.0 - smooth) * f / scaling.factor + smooth * f;
      }
    }
  }
  return std::vector<float>(inv_freq.begin(), inv_freq.end());
}

}  // namespace loom
