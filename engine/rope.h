// Rotary-embedding frequencies for a model config, with rope scaling applied.
#pragma once

#include <vector>

#include "engine/model/model_config.h"

namespace loom {

// The inverse frequencies inv_freq[i] = 1 / theta^(2i / head_dim), i < head_dim / 2,
// after the config's rope_scaling:
//  - linear:  divided by `factor` (positions are interpolated);
//  - dynamic: NTK-aware, with the base scaled once for the full scaled context,
//             theta' = theta * (factor^2 - factor + 1)^(d / (d - 2)). This is the static
//             form servers use (vLLM): every position of every sequence sees the same
//             frequencies, so cached keys stay valid. Transformers rescales per forward
//             instead, and so differs from it only past max_position_embeddings;
//  - llama3:  Llama 3.1's wavelength-dependent blend of scaled and unscaled frequencies.
std::vector<float> ComputeRopeInvFreq(const ModelConfig& config);

}  // namespace loom
