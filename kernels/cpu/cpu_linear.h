// Matrix product in the layout of nn.Linear: out = x @ weight^T (+ bias), all fp32.
#pragma once

#include <cstdint>

namespace loom::cpu {

// x: [rows, in]; weight: [out, in]; bias: [out] or nullptr; out: [rows, out].
// Tiled so that a block of weight rows stays in cache while every input row passes
// over it; each output is one fp32 dot product in a fixed order, so results do not
// depend on the number of rows in the batch.
void LinearF32(const float* x, const float* weight, const float* bias, int64_t rows, int64_t in,
               int64_t out_features, float* out);

}  // namespace loom::cpu
