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
//
// Gated (LaunchGemvSiluAndMul): w holds the gate rows then the up rows, and the warp of
// output n streams rows n and n + inter together, accumulating each exactly as the plain
// kernel does; its epilogue rounds both to T and applies SiLU-and-mul as
// SiluAndMulKernel does, so that the result is bitwise the two-pass one.
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

// n: outputs. Plain: w is [n, k]. Gated: w is [2 n, k], gate rows then up rows.
template <typename T, int kRows, bool kGated>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    GemvWarpPerOutput(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                      int n, int k, T* __restrict__ out) {
  constexpr int kParts = kGated ? 2 : 1;  // weight rows per warp
  const int lane = threadIdx.x % 32;
  const int col = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  if (col >= n) return;  // touches no memory: needs no wait
  const T* w_row[kParts];
#pragma unroll
  for (int part = 0; part < kParts; ++part) {
    w_row[part] = w + (static_cast<int64_t>(col) + part * static_cast<int64_t>(n)) * k;
  }
  float acc[kParts][kRows];
#pragma unroll
  for (int part = 0; part < kParts; ++part) {
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[part][r] = 0.0f;
  }

  // The first weights are requested before the wait for the kernel that writes x: no
  // kernel writes weights, and their latency then overlaps that kernel's tail.
  const int first = lane * 8;
  uint4 wv[kParts][kUnroll];
  if (first + (kUnroll - 1) * kLaneStride < k) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int part = 0; part < kParts; ++part) {
        wv[part][u] = LoadStreaming(w_row[part] + first + u * kLaneStride);
      }
    }
  }
  WaitForPriorGrids();
  AllowDependentLaunch();

  int i = first;
  for (; i + (kUnroll - 1) * kLaneStride < k; i += kUnroll * kLaneStride) {
    if (i != first) {
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
        for (int part = 0; part < kParts; ++part) {
          wv[part][u] = LoadStreaming(w_row[part] + i + u * kLaneStride);
        }
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        const uint4 xv = __ldg(reinterpret_cast<const uint4*>(x + r * k + i + u * kLaneStride));
#pragma unroll
        for (int part = 0; part < kParts; ++part) acc[part][r] += Dot8<T>(wv[part][u], xv);
      }
    }
  }
  for (; i < k; i += kLaneStride) {
#pragma unroll
    for (int part = 0; part < kParts; ++part) {
      const uint4 tail = LoadStreaming(w_row[part] + i);
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        acc[part][r] += Dot8<T>(tail, __ldg(reinterpret_cast<const uint4*>(x + r * k + i)));
      }
    }
  }
#pragma unroll
  for (int part = 0; part < kParts; ++part) {
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[part][r] = WarpSum(acc[part][r]);
  }
  if (lane != 0) return;
  float b[kParts];
#pragma unroll
  for (int part = 0; part < kParts; ++part) {
    b[part] = bias != nullptr ? ToFloat(bias[col + part * n]) : 0.0f;
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    if constexpr (kGated) {
      const float gate = Round<T>(acc[0][r] + b[0]);
      const float up = Round<T>(acc[1][r] + b[1]);
      out[static_cast<int64_t>(r) * n + col] =
          FromFloat<T>(Round<T>(gate / (1.0f + expf(-gate))) * up);
    } else {
      out[static_cast<int64_t>(r) * n + col] = FromFloat<T>(acc[0][r] + b[0]);
    }
  }
}

template <typename T, int kRows, bool kGated>
void Launch(const void* x, const void* w, const void* bias, int n, int k, void* out,
            cudaStream_t stream) {
  const int blocks = (n + kWarpsPerBlock - 1) / kWarpsPerBlock;
  LaunchPdl(GemvWarpPerOutput<T, kRows, kGated>, blocks, kWarpsPerBlock * 32, 0, stream,
            static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(bias), n, k,
            static_cast<T*>(out));
}

template <bool kGated>
void LaunchForRows(FloatType type, const void* x, const void* w, const void* bias, int rows, int n,
                   int k, void* out, cudaStream_t stream) {
  DispatchFloat(type, [&](auto zero) {
    using T = decltype(zero);
    switch (rows) {
      case 1:
        return Launch<T, 1, kGated>(x, w, bias, n, k, out, stream);
      case 2:
        return Launch<T, 2, kGated>(x, w, bias, n, k, out, stream);
      case 3:
        return Launch<T, 3, kGated>(x, w, bias, n, k, out, stream);
      case 4:
        return Launch<T, 4, kGated>(x, w, bias, n, k, out, stream);
      case 5:
        return Launch<T, 5, kGated>(x, w, bias, n, k, out, stream);
      case 6:
        return Launch<T, 6, kGated>(x, w, bias, n, k, out, stream);
      case 7:
        return Launch<T, 7, kGated>(x, w, bias, n, k, out, stream);
      default:
        return Launch<T, 8, kGated>(x, w, bias, n, k, out, stream);
    }
  });
}

}  // namespace

void LaunchGemv(FloatType type, const void* x, const void* w, const void* bias, int rows, int n,
                int k, void* out, cudaStream_t stream) {
  LaunchForRows<false>(type, x, w, bias, rows, n, k, out, stream);
}

void LaunchGemvSiluAndMul(FloatType type, const void* x, const void* w, const void* bias, int rows,
                          int inter, int k, void* out, cudaStream_t stream) {
  LaunchForRows<true>(type, x, w, bias, rows, inter, k, out, stream);
}

}  // namespace loom::cuda
