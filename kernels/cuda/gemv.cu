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
// A fused prologue (GemvNorm) takes the RMSNorm of the input rows: x is the residual
// stream; each thread loads its norm weights before the wait, and after it the block
// loads all its rows into shared memory, reduces their sums of squares and normalizes
// them in place as RmsNormKernel would; the warps then read the activation rows there.
// It replaces a norm kernel and its round trip through global memory with one load per
// block from L2.
//
// Three fused epilogues. Adding to the residual (LaunchGemvAddResidual) rounds the
// product to T and adds it to out, as Linear then AddRmsNorm's add would. The other two
// give a warp two weight rows, streamed together and each accumulated exactly as the
// plain kernel does, so that the result is bitwise that of the plain product followed
// by the kernel the epilogue replaces (elementwise.cu):
//  - SiLU-and-mul (LaunchGemvSiluAndMul): w holds the gate rows then the up rows; the
//    warp of output n takes rows n and n + inter, rounds both to T and writes
//    silu(gate) * up.
//  - RoPE and the KV write (LaunchGemvRopeKv): w is the fused qkv projection; the warp
//    of pair p takes dims i and i + head_dim / 2 of head p / (head_dim / 2) (i = p mod
//    head_dim / 2), rounds both to T, rotates a query or key pair, writes it to qkv and
//    a key or value pair to its cache slot. Its angle, slot and inputs are read before
//    the wait (index tensors and weights: no kernel writes them).
#include <type_traits>

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

enum class Epilogue { kPlain, kAddResidual, kSiluAndMul, kRopeKv };

// The norm weights of a thread's first two vectors of a row (NormalizeIntoShared's
// vectors threadIdx.x and threadIdx.x + blockDim.x: all of them for k up to 4096), which
// a normalizing GEMV loads before its wait (no kernel writes weights), so that after the
// wait only the rows themselves are read.
struct HeldNormWeights {
  uint4 first{};
  uint4 second{};
};

__device__ __forceinline__ HeldNormWeights HoldNormWeights(const void* weight, int k) {
  const uint4* w = reinterpret_cast<const uint4*>(weight);
  const int vectors = k / 8;
  HeldNormWeights held;
  if (threadIdx.x < vectors) held.first = __ldg(w + threadIdx.x);
  if (threadIdx.x + blockDim.x < vectors) held.second = __ldg(w + threadIdx.x + blockDim.x);
  return held;
}

// Writes weight * round(x[r] * inv_rms(x[r])) for the kRows rows x: [kRows, k] into
// normed: [kRows, k / 8] vectors in shared memory, RmsNormKernel's arithmetic with the
// block's own order of the sum. Every thread of the block must call it, with `held`
// from HoldNormWeights; x is read only here, after the wait for the kernel that wrote it,
// through L2 (the residual stream changes between kernels: no L1 copy of it may serve).
template <typename T, int kRows>
__device__ __forceinline__ void NormalizeIntoShared(const T* x, const T* weight,
                                                    const HeldNormWeights& held, float eps, int k,
                                                    uint4* normed) {
  __shared__ float partial[kWarpsPerBlock][kRows];
  const int vectors = k / 8;
  float sum_squares[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) sum_squares[r] = 0.0f;
#pragma unroll 2
  for (int v = threadIdx.x; v < vectors; v += blockDim.x) {
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const uint4 h = __ldcg(reinterpret_cast<const uint4*>(x + r * k) + v);
      normed[r * vectors + v] = h;
      const T* e = reinterpret_cast<const T*>(&h);
#pragma unroll
      for (int j = 0; j < 8; ++j)
        sum_squares[r] = fmaf(ToFloat(e[j]), ToFloat(e[j]), sum_squares[r]);
    }
  }
  const int warp = threadIdx.x / 32;
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    sum_squares[r] = WarpSum(sum_squares[r]);
    if (threadIdx.x % 32 == 0) partial[warp][r] = sum_squares[r];
  }
  __syncthreads();
  float inv_rms[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    float total = 0.0f;
#pragma unroll
    for (int i = 0; i < kWarpsPerBlock; ++i) total += partial[i][r];
    inv_rms[r] = rsqrtf(total / k + eps);
  }
  // Each thread rewrites the vectors it loaded.
  for (int v = threadIdx.x, i = 0; v < vectors; v += blockDim.x, ++i) {
    const uint4 wv = i == 0   ? held.first
                     : i == 1 ? held.second
                              : __ldg(reinterpret_cast<const uint4*>(weight) + v);
    const T* we = reinterpret_cast<const T*>(&wv);
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      uint4 h = normed[r * vectors + v];
      T* e = reinterpret_cast<T*>(&h);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        e[j] = RmsNormElement<T>(ToFloat(e[j]), ToFloat(we[j]), inv_rms[r]);
      }
      normed[r * vectors + v] = h;
    }
  }
  __syncthreads();
}

// The rows of w that warp `col` reads: row0 and, with a fused epilogue, row0 + offset.
template <Epilogue kEpilogue>
__device__ __forceinline__ int64_t FirstRow(int col, int head_dim) {
  if constexpr (kEpilogue == Epilogue::kRopeKv) {
    const int half = head_dim / 2;
    return static_cast<int64_t>(col / half) * head_dim + col % half;
  }
  return col;
}

// n: warps, one per output (kPlain, kAddResidual: w is [n, k]; kSiluAndMul: w is
// [2 n, k], out is [rows, n]) or per rotated pair (kRopeKv: w is [2 n, k], out is qkv
// [rows, 2 n]). kNormInput: x is normalized by norm_weight (NormalizeIntoShared), with
// kRows * k * sizeof(T) bytes of dynamic shared memory.
template <typename T, int kRows, Epilogue kEpilogue, bool kNormInput>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    GemvWarpPerOutput(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                      int n, int k, T* __restrict__ out, RopeKvParams rope,
                      const T* __restrict__ norm_weight, float eps) {
  constexpr bool kTwoRows = kEpilogue == Epilogue::kSiluAndMul || kEpilogue == Epilogue::kRopeKv;
  constexpr int kParts = kTwoRows ? 2 : 1;  // weight rows per warp
  extern __shared__ uint4 normed[];         // kNormInput: [kRows, k / 8]
  const int lane = threadIdx.x % 32;
  const int col = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  const bool active = col < n;
  // A warp past n touches no memory and needs no wait, unless the block's norm needs it.
  if (!kNormInput && !active) return;
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
  if (active && first + (kUnroll - 1) * kLaneStride < k) {
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
    if (active && lane == 0) {
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
  HeldNormWeights held;
  if constexpr (kNormInput) held = HoldNormWeights(norm_weight, k);
  WaitForPriorGrids();
  AllowDependentLaunch();
  if constexpr (kNormInput) {
    NormalizeIntoShared<T, kRows>(x, norm_weight, held, eps, k, normed);
    if (!active) return;
  }
  // 8 elements of activation row r from element e (a multiple of 8).
  auto load_x = [&](int r, int e) -> uint4 {
    if constexpr (kNormInput) {
      return normed[(r * k + e) / 8];
    } else {
      return __ldg(reinterpret_cast<const uint4*>(x + r * k + e));
    }
  };

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
        const uint4 xv = load_x(r, i + u * kLaneStride);
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
        acc[part][r] += Dot8<T>(tail, load_x(r, i));
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
    } else if constexpr (kEpilogue == Epilogue::kAddResidual) {
      T* residual = out + static_cast<int64_t>(r) * n + col;
      *residual = FromFloat<T>(ToFloat(__ldcg(residual)) + Round<T>(acc[0][r] + b[0]));
    } else {
      out[static_cast<int64_t>(r) * n + col] = FromFloat<T>(acc[0][r] + b[0]);
    }
  }
}

template <typename T, int kRows, Epilogue kEpilogue, bool kNormInput>
void Launch(const void* x, const void* w, const void* bias, int n, int k, void* out,
            const RopeKvParams& rope, const GemvNorm& norm, cudaStream_t stream) {
  const int blocks = (n + kWarpsPerBlock - 1) / kWarpsPerBlock;
  const size_t shared = kNormInput ? static_cast<size_t>(kRows) * k * sizeof(T) : 0;
  LaunchPdl(GemvWarpPerOutput<T, kRows, kEpilogue, kNormInput>, blocks, kWarpsPerBlock * 32, shared,
            stream, static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(bias),
            n, k, static_cast<T*>(out), rope, static_cast<const T*>(norm.weight), norm.eps);
}

template <Epilogue kEpilogue>
void LaunchForRows(FloatType type, const void* x, const void* w, const void* bias, int rows, int n,
                   int k, const RopeKvParams& rope, const GemvNorm& norm, void* out,
                   cudaStream_t stream) {
  DispatchFloat(type, [&](auto zero) {
    using T = decltype(zero);
    auto launch = [&](auto rows_constant) {
      constexpr int kRows = decltype(rows_constant)::value;
      if constexpr (kEpilogue != Epilogue::kAddResidual) {
        if (norm.weight != nullptr) {
          return Launch<T, kRows, kEpilogue, true>(x, w, bias, n, k, out, rope, norm, stream);
        }
      }
      Launch<T, kRows, kEpilogue, false>(x, w, bias, n, k, out, rope, norm, stream);
    };
    switch (rows) {
      case 1:
        return launch(std::integral_constant<int, 1>{});
      case 2:
        return launch(std::integral_constant<int, 2>{});
      case 3:
        return launch(std::integral_constant<int, 3>{});
      case 4:
        return launch(std::integral_constant<int, 4>{});
      case 5:
        return launch(std::integral_constant<int, 5>{});
      case 6:
        return launch(std::integral_constant<int, 6>{});
      case 7:
        return launch(std::integral_constant<int, 7>{});
      default:
        return launch(std::integral_constant<int, 8>{});
    }
  });
}

}  // namespace

void LaunchGemv(FloatType type, const void* x, const void* w, const void* bias, int rows, int n,
                int k, const GemvNorm& norm, void* out, cudaStream_t stream) {
  LaunchForRows<Epilogue::kPlain>(type, x, w, bias, rows, n, k, RopeKvParams{}, norm, out, stream);
}

void LaunchGemvAddResidual(FloatType type, const void* x, const void* w, const void* bias, int rows,
                           int n, int k, void* residual, cudaStream_t stream) {
  LaunchForRows<Epilogue::kAddResidual>(type, x, w, bias, rows, n, k, RopeKvParams{}, GemvNorm{},
                                        residual, stream);
}

void LaunchGemvSiluAndMul(FloatType type, const void* x, const void* w, const void* bias, int rows,
                          int inter, int k, const GemvNorm& norm, void* out, cudaStream_t stream) {
  LaunchForRows<Epilogue::kSiluAndMul>(type, x, w, bias, rows, inter, k, RopeKvParams{}, norm, out,
                                       stream);
}

void LaunchGemvRopeKv(FloatType type, const void* x, const void* w, const void* bias, int rows,
                      int k, const GemvNorm& norm, const RopeKvParams& rope, void* qkv,
                      cudaStream_t stream) {
  const int pairs = (rope.num_heads + 2 * rope.kv_heads) * rope.head_dim / 2;
  LaunchForRows<Epilogue::kRopeKv>(type, x, w, bias, rows, pairs, k, rope, norm, qkv, stream);
}

}  // namespace loom::cuda
