#include "kernels/cpu/cpu_linear.h"

#include <algorithm>

namespace loom::cpu {
namespace {

// One fp32 dot product. The simd reduction lets the compiler vectorize the sum in a
// fixed lane order, without -ffast-math.
inline float Dot(const float* a, const float* b, int64_t n) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// Weight rows per tile: 32 rows of a 4096-wide layer are 512 KiB, about an L2.
constexpr int64_t kWeightTileRows = 32;

}  // namespace

void LinearF32(const float* x, const float* weight, const float* bias, int64_t rows, int64_t in,
               int64_t out_features, float* out) {
  for (int64_t n0 = 0; n0 < out_features; n0 += kWeightTileRows) {
    const int64_t n1 = std::min(out_features, n0 + kWeightTileRows);
    for (int64_t r = 0; r < rows; ++r) {
      const float* x_row = x + r * in;
      float* out_row = out + r * out_features;
      for (int64_t n = n0; n < n1; ++n) {
        const float b = bias != nullptr ? bias[n] : 0.0f;
        out_row[n] = Dot(x_row, weight + n * in, in) + b;
      }
    }
  }
}

}  // namespace loom::cpu
