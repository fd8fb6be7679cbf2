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
// Two fused epilogues give a warp two weight rows, streamed together and each
// accumulated exactly as the plain kernel does, so that the result is bitwise that of
// the plain product followed by the kernel the epilogue replaces (elementwise.cu):
//  - SiLU-and-mul (LaunchGemvSiluAndMul): w holds the gate rows then the up rows; the
//    warp of output n takes rows n and n + inter, rounds both to T and writes
//    silu(gate) * up.
//  - RoPE and the KV write (LaunchGemvRopeKv): w is the fused qkv projection; the warp
//    of pair p takes dims i and i + head_dim / 2 of head p / (head_dim / 2) (i = p mod
//    head_dim / 2), rounds both to T, rotates a query or key pair, writes it to qkv and
//    a key or value pair to its cache slot. Its angle, slot and inputs are read before
//    the wait (index tensors and weights: no kernel writes them).
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

enum class Epilogue { kPlain, kSiluAndMul, kRopeKv };

// The rows of w that warp `col` reads: row0 and, with a fused epilogue, row0 + offset.
template <Epilogue kEpilogue>
__device__ __forceinline__ int64_t FirstRow(int col, int head_dim) {
  if constexpr (kEpilogue == Epilogue::kRopeKv) {
    const int half = head_dim / 2;
    return static_cast<int64_t>(col / half) * head_dim + col % half;
  }
  return col;
}

// n: warps, one per output (kPlain: w is [n, k]; kSiluAndMul: w is [2 n, k], out is
// [rows, n]) or per rotated pair (kRopeKv: w is [2 n, k], out is qkv [rows, 2 n]).
template <typename T, int kRows, Epilogue kEpilogue>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    GemvWarpPerOutput(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                      int n, int k, T* __restrict__ out, RopeKvParams rope) {
  constexpr int kParts = kEpilogue == Epilogue::kPlain ? 1 : 2;  // weight rows per warp
  const int lane = threadIdx.x % 32;
  const int col = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  if (col >= n) return;  // touches no memory: needs no wait
  const int64_t row0 = FirstRow<kEpilogue>(col, rope.head_dim);
  const int64_t offset = kEpilogue == Epilogue::kRopeKv ? rope.head_dim / 2 : n;
  const T* w_row[kParts];
#pragma unroll
  for (int part = 0; part < kParts; ++part) w_row[part] = w + (row0 + part * offset) * k;
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
  // The rotation's angles and the cache slots, also before the wait.
  float cos_r[kEpilogue == Epilogue::kRopeKv ? kRows : 1];
  float sin_r[kEpilogue == Epilogue::kRopeKv ? kRows : 1];
  int64_t slot_r[kEpilogue == Epilogue::kRopeKv ? kRows : 1];
  if constexpr (kEpilogue == Epilogue::kRopeKv) {
    if (lane == 0) {
      const float inv_freq = rope.inv_freq[col % (rope.head_dim / 2)];
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        float s;
        float c;
        sincosf(static_cast<float>(rope.positions[r]) * inv_freq, &s, &c);
        cos_r[r] = Round<T>(c);
        sin_r[r] = Round<T>(s);
        slot_r[r] = rope.slots[r];
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
    b[part] = bias != nullptr ? ToFloat(bias[row0 + part * offset]) : 0.0f;
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    if constexpr (kEpilogue == Epilogue::kSiluAndMul) {
      const float gate = Round<T>(acc[0][r] + b[0]);
      const float up = Round<T>(acc[1][r] + b[1]);
      out[static_cast<int64_t>(r) * n + col] =
          FromFloat<T>(Round<T>(gate / (1.0f + expf(-gate))) * up);
    } else if constexpr (kEpilogue == Epilogue::kRopeKv) {
      // RopeWriteKvKernel's arithmetic on the product rounded to T.
      const float x0 = Round<T>(acc[0][r] + b[0]);  // dim i
      const float x1 = Round<T>(acc[1][r] + b[1]);  // dim i + head_dim / 2
      const int head = static_cast<int>(row0 / rope.head_dim);
      const int rotated_heads = rope.num_heads + rope.kv_heads;
      T lo = FromFloat<T>(x0);
      T hi = FromFloat<T>(x1);
      if (head < rotated_heads) {
        lo = FromFloat<T>(Round<T>(x0 * cos_r[r]) + Round<T>(-x1 * sin_r[r]));
        hi = FromFloat<T>(Round<T>(x1 * cos_r[r]) + Round<T>(x0 * sin_r[r]));
      }
      T* qkv = out + static_cast<int64_t>(r) * 2 * n + row0;
      qkv[0] = lo;
      qkv[offset] = hi;
      if (head >= rope.num_heads) {
        const bool key = head < rotated_heads;
        const int kv_head = key ? head - rope.num_heads : head - rotated_heads;
        T* cache = static_cast<T*>(key ? rope.k_cache : rope.v_cache) +
                   (slot_r[r] * rope.kv_heads + kv_head) * rope.head_dim + row0 % rope.head_dim;
        cache[0] = lo;
        cache[offset] = hi;
      }
    } else {
      out[static_cast<int64_t>(r) * n + col] = FromFloat<T>(acc[0][r] + b[0]);
    }
  }
}

template <typename T, int kRows, Epilogue kEpilogue>
void Launch(const void* x, const void* w, const void* bias, int n, int k, void* out,
            const RopeKvParams& rope, cudaStream_t stream) {
  const int blocks = (n + kWarpsPerBlock - 1) / kWarpsPerBlock;
  LaunchPdl(GemvWarpPerOutput<T, kRows, kEpilogue>, blocks, kWarpsPerBlock * 32, 0, stream,
            static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(bias), n, k,
            static_cast<T*>(out), rope);
}

template <Epilogue kEpilogue>
void LaunchForRows(FloatType type, const void* x, const void* w, const void* bias, int rows, int n,
                   int k, void* out, const RopeKvParams& rope, cudaStream_t stream) {
  DispatchFloat(type, [&](auto zero) {
    using T = decltype(zero);
    switch (rows) {
      case 1:
        return Launch<T, 1, kEpilogue>(x, w, bias, n, k, out, rope, stream);
      case 2:
        return Launch<T, 2, kEpilogue>(x, w, bias, n, k, out, rope, stream);
      case 3:
        return Launch<T, 3, kEpilogue>(x, w, bias, n, k, out, rope, stream);
      case 4:
        return Launch<T, 4, kEpilogue>(x, w, bias, n, k, out, rope, stream);
      case 5:
        return Launch<T, 5, kEpilogue>(x, w, bias, n, k, out, rope, stream);
      case 6:
        return Launch<T, 6, kEpilogue>(x, w, bias, n, k, out, rope, stream);
      case 7:
        return Launch<T, 7, kEpilogue>(x, w, bias, n, k, out, rope, stream);
      default:
        return Launch<T, 8, kEpilogue>(x, w, bias, n, k, out, rope, stream);
    }
  });
}

}  // namespace

void LaunchGemv(FloatType type, const void* x, const void* w, const void* bias, int rows, int n,
                int k, void* out, cudaStream_t stream) {
  LaunchForRows<Epilogue::kPlain>(type, x, w, bias, rows, n, k, out, RopeKvParams{}, stream);
}

void LaunchGemvSiluAndMul(FloatType type, const void* x, const void* w, const void* bias, int rows,
                          int inter, int k, void* out, cudaStream_t stream) {
  LaunchForRows<Epilogue::kSiluAndMul>(type, x, w, bias, rows, inter, k, out, RopeKvParams{},
                                       stream);
}

void LaunchGemvRopeKv(FloatType type, const void* x, const void* w, const void* bias, int rows,
                      int k, const RopeKvParams& rope, void* qkv, cudaStream_t stream) {
  const int pairs = (rope.num_heads + 2 * rope.kv_heads) * rope.head_dim / 2;
  LaunchForRows<Epilogue::kRopeKv>(type, x, w, bias, rows, pairs, k, qkv, rope, stream);
}

}  // namespace loom::cuda
