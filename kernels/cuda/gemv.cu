// out = x @ w^T for a few activation rows: the decode-time matrix products, which read
// every weight once and so run at the speed of memory, not of arithmetic.
//
// Strategy (gemv_warp_per_output): each warp owns one output feature n and streams the
// weight row w[n, :] in 16-byte loads, kUnroll of them in flight per lane before any is
// used, bypassing L1 (each weight is read once per step). The few activation rows are
// read through L1, where they stay. Each lane keeps one fp32 partial sum per activation
// row; a warp shuffle reduces them and lane 0 adds the bias and rounds to T once.
// Eight warps per block, one block per eight output features. Launched with LaunchPdl:
// the first weight loads are issued before the wait for the previous kernel.
#include "kernels/cuda/float_traits.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/pdl.cuh"

namespace loom::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kUnroll = 8;
constexpr int kLaneStride = 32 * 8;  // elements one warp covers per 16-byte load

template <typename T>
__device__ __forceinline__ float Dot8(uint4 a, uint4 b) {
  const T* x = reinterpret_cast<const T*>(&a);
  const T* y = reinterpret_cast<const T*>(&b);
  float sum = 0.0f;
#pragma unroll
  for (int j = 0; j < 8; ++j) sum = fmaf(ToFloat(x[j]), ToFloat(y[j]), sum);
  return sum;
}

template <typename T, int kRows>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    GemvWarpPerOutput(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                      int n, int k, T* __restrict__ out) {
  const int lane = threadIdx.x % 32;
  const int col = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  if (col >= n) return;  // touches no memory: needs no wait
  const T* w_row = w + static_cast<int64_t>(col) * k;
  float acc[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) acc[r] = 0.0f;

  // The first weights are requested before the wait for the kernel that writes x: no
  // kernel writes weights, and their latency then overlaps that kernel's tail.
  const int first = lane * 8;
  uint4 wv[kUnroll];
  if (first + (kUnroll - 1) * kLaneStride < k) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) wv[u] = LoadStreaming(w_row + first + u * kLaneStride);
  }
  WaitForPriorGrids();
  AllowDependentLaunch();

  int i = first;
  for (; i + (kUnroll - 1) * kLaneStride < k; i += kUnroll * kLaneStride) {
    if (i != first) {
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) wv[u] = LoadStreaming(w_row + i + u * kLaneStride);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        const uint4 xv = __ldg(reinterpret_cast<const uint4*>(x + r * k + i + u * kLaneStride));
        acc[r] += Dot8<T>(wv[u], xv);
      }
    }
  }
  for (; i < k; i += kLaneStride) {
    const uint4 wv = LoadStreaming(w_row + i);
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      acc[r] += Dot8<T>(wv, __ldg(reinterpret_cast<const uint4*>(x + r * k + i)));
    }
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r) acc[r] = WarpSum(acc[r]);
  if (lane == 0) {
    const float b = bias != nullptr ? ToFloat(bias[col]) : 0.0f;
#pragma unroll
    for (int r = 0; r < kRows; ++r)
      out[static_cast<int64_t>(r) * n + col] = FromFloat<T>(acc[r] + b);
  }
}

template <typename T, int kRows>
void Launch(const void* x, const void* w, const void* bias, int n, int k, void* out,
            cudaStream_t stream) {
  const int blocks = (n + kWarpsPerBlock - 1) / kWarpsPerBlock;
  LaunchPdl(GemvWarpPerOutput<T, kRows>, blocks, kWarpsPerBlock * 32, 0, stream,
            static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(bias), n, k,
            static_cast<T*>(out));
}

}  // namespace

void LaunchGemv(FloatType type, const void* x, const void* w, const void* bias, int rows, int n,
                int k, void* out, cudaStream_t stream) {
  DispatchFloat(type, [&](auto zero) {
    using T = decltype(zero);
    switch (rows) {
      case 1:
        return Launch<T, 1>(x, w, bias, n, k, out, stream);
      case 2:
        return Launch<T, 2>(x, w, bias, n, k, out, stream);
      case 3:
        return Launch<T, 3>(x, w, bias, n, k, out, stream);
      case 4:
        return Launch<T, 4>(x, w, bias, n, k, out, stream);
      case 5:
        return Launch<T, 5>(x, w, bias, n, k, out, stream);
      case 6:
        return Launch<T, 6>(x, w, bias, n, k, out, stream);
      case 7:
        return Launch<T, 7>(x, w, bias, n, k, out, stream);
      default:
        return Launch<T, 8>(x, w, bias, n, k, out, stream);
    }
  });
}

}  // namespace loom::cuda
