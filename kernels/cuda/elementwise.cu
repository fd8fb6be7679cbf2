// The per-token kernels of a layer: row gather, RMSNorm (plain and fused with the
// residual add), RoPE, the KV-cache write (alone or fused with RoPE), SiLU-and-mul, the
// residual add alone and the bias broadcast.
//
// Parallelization: one block per token row; threads stride over the row in 8-element
// (16-byte) vectors (the add alone: one thread per vector of the whole tensor). Every kernel is
// launched with LaunchPdl and so begins with the wait for the kernels before it
// (kernels/cuda/pdl.cuh). Arithmetic is fp32; intermediate results are rounded to the storage type
// where PyTorch rounds them, so that greedy decoding matches transformers.
#include <algorithm>

#include "kernels/cuda/float_traits.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/pdl.cuh"

namespace loom::cuda {
namespace {

constexpr int kRowThreads = 256;

template <typename T>
__global__ void GatherRowsKernel(const T* table, const int32_t* ids, int cols, T* out) {
  WaitForPriorGrids();
  AllowDependentLaunch();
  const int64_t row = blockIdx.x;
  const T* src = table + static_cast<int64_t>(ids[row]) * cols;
  T* dst = out + row * cols;
  for (int i = threadIdx.x * 8; i < cols; i += blockDim.x * 8)
    StoreVec8(dst + i, LoadVec8(src + i));
}

// The weights of a thread's first vector of the row, which a norm kernel loads before
// its wait (no kernel writes weights), so that their latency hides behind the kernel
// before it.
template <typename T>
__device__ __forceinline__ Vec8<T> FirstWeights(const T* weight, int hidden) {
  Vec8<T> w{};
  if (threadIdx.x * 8 < hidden) w = LoadVec8(weight + threadIdx.x * 8);
  return w;
}

// weight * round(x * inv_rms), the LlamaRMSNorm order of operations. `first` holds
// FirstWeights(weight, hidden).
template <typename T>
__device__ void NormalizeRow(const T* x, const T* weight, const Vec8<T>& first, float inv_rms,
                             int hidden, T* out) {
  for (int i = threadIdx.x * 8; i < hidden; i += blockDim.x * 8) {
    const Vec8<T> a = LoadVec8(x + i);
    const Vec8<T> w = i == threadIdx.x * 8 ? first : LoadVec8(weight + i);
    Vec8<T> r;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      r.v[j] = RmsNormElement<T>(ToFloat(a.v[j]), ToFloat(w.v[j]), inv_rms);
    }
    StoreVec8(out + i, r);
  }
}

template <typename T>
__global__ void RmsNormKernel(const T* x, const T* weight, float eps, int hidden, T* out) {
  const Vec8<T> first = FirstWeights(weight, hidden);
  WaitForPriorGrids();
  AllowDependentLaunch();
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const T* xr = x + row * hidden;
  float sum_squares = 0.0f;
  for (int i = threadIdx.x * 8; i < hidden; i += blockDim.x * 8) {
    const Vec8<T> a = LoadVec8(xr + i);
#pragma unroll
    for (int j = 0; j < 8; ++j) sum_squares += ToFloat(a.v[j]) * ToFloat(a.v[j]);
  }
  sum_squares = BlockSum(sum_squares, scratch);
  NormalizeRow(xr, weight, first, rsqrtf(sum_squares / hidden + eps), hidden, out + row * hidden);
}

template <typename T>
__global__ void AddRmsNormKernel(T* x, T* residual, const T* weight, float eps, int hidden) {
  const Vec8<T> first = FirstWeights(weight, hidden);
  WaitForPriorGrids();
  AllowDependentLaunch();
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  T* xr = x + row * hidden;
  T* rr = residual + row * hidden;
  float sum_squares = 0.0f;
  for (int i = threadIdx.x * 8; i < hidden; i += blockDim.x * 8) {
    const Vec8<T> a = LoadVec8(xr + i);
    const Vec8<T> b = LoadVec8(rr + i);
    Vec8<T> sum;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const float s = Round<T>(ToFloat(a.v[j]) + ToFloat(b.v[j]));
      sum.v[j] = FromFloat<T>(s);
      sum_squares += s * s;
    }
    StoreVec8(rr + i, sum);
  }
  sum_squares = BlockSum(sum_squares, scratch);
  // Each thread reads back only the elements it wrote.
  NormalizeRow(rr, weight, first, rsqrtf(sum_squares / hidden + eps), hidden, xr);
}

// q * cos + rotate_half(q) * sin with cos and sin rounded to T, each product and the sum
// rounded to T: transformers' apply_rotary_pos_emb on bf16 tensors.
// Grid: (tokens, rotated heads); one thread per rotated pair.
template <typename T>
__global__ void RopeKernel(T* qkv, int total_heads, int head_dim, int half,
                           const int32_t* positions, const float* inv_freq) {
  WaitForPriorGrids();
  AllowDependentLaunch();
  const int64_t t = blockIdx.x;
  const int h = blockIdx.y;
  const float pos = static_cast<float>(positions[t]);
  T* head = qkv + (t * total_heads + h) * head_dim;
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    float s;
    float c;
    sincosf(pos * inv_freq[i], &s, &c);
    c = Round<T>(c);
    s = Round<T>(s);
    const float a = ToFloat(head[i]);
    const float b = ToFloat(head[i + half]);
    head[i] = FromFloat<T>(Round<T>(a * c) + Round<T>(-b * s));
    head[i + half] = FromFloat<T>(Round<T>(b * c) + Round<T>(a * s));
  }
}

// RopeKernel and WriteKvKernel in one pass, one block per token. The block first puts
// the token's cos and sin (rounded to T) in shared memory; then each thread takes
// 16-byte vectors of the token's heads: a query or key vector in [0, half) is rotated
// with its partner at + half (and a key's stored to slot slots[t] of k_cache), a key
// vector past the rotary dims is stored as it is, and a value vector is stored to
// v_cache. REQUIRES: half % 8 == 0, half <= kMaxRopeHalf.
constexpr int kMaxRopeHalf = 128;

template <typename T>
__global__ void RopeWriteKvKernel(T* qkv, int num_heads, int kv_heads, int head_dim, int half,
                                  const int32_t* positions, const float* inv_freq,
                                  const int32_t* slots, T* k_cache, T* v_cache) {
  __shared__ float cos_s[kMaxRopeHalf];
  __shared__ float sin_s[kMaxRopeHalf];
  // The angles and the slot before the wait: positions, slots and inv_freq are inputs
  // no kernel writes.
  const int64_t t = blockIdx.x;
  const float pos = static_cast<float>(positions[t]);
  const int64_t slot = slots[t];
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    float s;
    float c;
    sincosf(pos * inv_freq[i], &s, &c);
    cos_s[i] = Round<T>(c);
    sin_s[i] = Round<T>(s);
  }
  WaitForPriorGrids();
  AllowDependentLaunch();
  __syncthreads();
  const int vecs = head_dim / 8;
  const int rotated_heads = num_heads + kv_heads;
  T* token = qkv + t * (rotated_heads + kv_heads) * head_dim;
  for (int unit = threadIdx.x; unit < (rotated_heads + kv_heads) * vecs; unit += blockDim.x) {
    const int h = unit / vecs;
    const int i = (unit % vecs) * 8;
    T* head = token + h * head_dim;
    T* cache = nullptr;
    if (h >= rotated_heads) {
      cache = v_cache + (slot * kv_heads + (h - rotated_heads)) * head_dim;
    } else if (h >= num_heads) {
      cache = k_cache + (slot * kv_heads + (h - num_heads)) * head_dim;
    }
    if (h < rotated_heads && i < 2 * half) {
      if (i >= half) continue;  // the partner of a vector below half
      const Vec8<T> a = LoadVec8(head + i);
      const Vec8<T> b = LoadVec8(head + i + half);
      Vec8<T> lo;
      Vec8<T> hi;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const float c = cos_s[i + j];
        const float s = sin_s[i + j];
        const float x = ToFloat(a.v[j]);
        const float y = ToFloat(b.v[j]);
        lo.v[j] = FromFloat<T>(Round<T>(x * c) + Round<T>(-y * s));
        hi.v[j] = FromFloat<T>(Round<T>(y * c) + Round<T>(x * s));
      }
      StoreVec8(head + i, lo);
      StoreVec8(head + i + half, hi);
      if (cache != nullptr) {
        StoreVec8(cache + i, lo);
        StoreVec8(cache + i + half, hi);
      }
    } else if (cache != nullptr) {
      StoreVec8(cache + i, LoadVec8(head + i));
    }
  }
}

template <typename T>
__global__ void WriteKvKernel(const T* qkv, int total_heads, int num_heads, int row, int head_dim,
                              const int32_t* slots, T* k_cache, T* v_cache) {
  WaitForPriorGrids();
  AllowDependentLaunch();
  const int64_t t = blockIdx.x;
  const int64_t slot = slots[t];
  const T* k = qkv + (t * total_heads + num_heads) * head_dim;
  const T* v = k + row;
  for (int i = threadIdx.x * 8; i < row; i += blockDim.x * 8) {
    StoreVec8(k_cache + slot * row + i, LoadVec8(k + i));
    StoreVec8(v_cache + slot * row + i, LoadVec8(v + i));
  }
}

// Grid: (rows, column chunks of blockDim * 8).
template <typename T>
__global__ void SiluAndMulKernel(const T* x, int inter, T* out) {
  WaitForPriorGrids();
  AllowDependentLaunch();
  const int64_t row = blockIdx.x;
  const T* gate = x + row * 2 * inter;
  const T* up = gate + inter;
  const int i = (blockIdx.y * blockDim.x + threadIdx.x) * 8;
  if (i < inter) {
    const Vec8<T> g = LoadVec8(gate + i);
    const Vec8<T> u = LoadVec8(up + i);
    Vec8<T> r;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const float a = ToFloat(g.v[j]);
      r.v[j] = FromFloat<T>(Round<T>(a / (1.0f + expf(-a))) * ToFloat(u.v[j]));
    }
    StoreVec8(out + row * inter + i, r);
  }
}

// out = round(out + x) over `vectors` 8-element vectors, AddRmsNormKernel's add.
template <typename T>
__global__ void AddKernel(const T* x, int64_t vectors, T* out) {
  WaitForPriorGrids();
  AllowDependentLaunch();
  const int64_t v = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (v >= vectors) return;
  const Vec8<T> a = LoadVec8(x + v * 8);
  const Vec8<T> b = LoadVec8(out + v * 8);
  Vec8<T> sum;
#pragma unroll
  for (int j = 0; j < 8; ++j) sum.v[j] = FromFloat<T>(ToFloat(a.v[j]) + ToFloat(b.v[j]));
  StoreVec8(out + v * 8, sum);
}

template <typename T>
__global__ void BroadcastRowsKernel(const T* bias, int cols, T* out) {
  WaitForPriorGrids();
  AllowDependentLaunch();
  const int64_t row = blockIdx.x;
  for (int i = threadIdx.x; i < cols; i += blockDim.x) out[row * cols + i] = bias[i];
}

int ThreadsFor(int vectors) {
  int threads = 32;
  while (threads < vectors && threads < 1024) threads *= 2;
  return threads;
}

}  // namespace

void LaunchGatherRows(FloatType type, const void* table, const int32_t* ids, int rows, int cols,
                      void* out, cudaStream_t stream) {
  if (rows == 0) return;
  DispatchFloat(type, [&](auto zero) {
    using T = decltype(zero);
    LaunchPdl(GatherRowsKernel<T>, rows, ThreadsFor(cols / 8), 0, stream,
              static_cast<const T*>(table), ids, cols, static_cast<T*>(out));
  });
}

void LaunchRmsNorm(FloatType type, const void* x, const void* weight, float eps, int rows,
                   int hidden, void* out, cudaStream_t stream) {
  if (rows == 0) return;
  DispatchFloat(type, [&](auto zero) {
    using T = decltype(zero);
    LaunchPdl(RmsNormKernel<T>, rows, ThreadsFor(hidden / 8), 0, stream, static_cast<const T*>(x),
              static_cast<const T*>(weight), eps, hidden, static_cast<T*>(out));
  });
}

void LaunchAddRmsNorm(FloatType type, void* x, void* residual, const void* weight, float eps,
                      int rows, int hidden, cudaStream_t stream) {
  if (rows == 0) return;
  DispatchFloat(type, [&](auto zero) {
    using T = decltype(zero);
    LaunchPdl(AddRmsNormKernel<T>, rows, ThreadsFor(hidden / 8), 0, stream, static_cast<T*>(x),
              static_cast<T*>(residual), static_cast<const T*>(weight), eps, hidden);
  });
}

void LaunchRope(FloatType type, void* qkv, int tokens, int total_heads, int rotate_heads,
                int head_dim, int rotary_dim, const int32_t* positions, const float* inv_freq,
                cudaStream_t stream) {
  if (tokens == 0) return;
  const int half = rotary_dim / 2;
  DispatchFloat(type, [&](auto zero) {
    using T = decltype(zero);
    LaunchPdl(RopeKernel<T>, dim3(tokens, rotate_heads), ThreadsFor(half), 0, stream,
              static_cast<T*>(qkv), total_heads, head_dim, half, positions, inv_freq);
  });
}

void LaunchRopeWriteKv(FloatType type, void* qkv, int tokens, int num_heads, int kv_heads,
                       int head_dim, int rotary_dim, const int32_t* positions,
                       const float* inv_freq, const int32_t* slots, void* k_cache, void* v_cache,
                       cudaStream_t stream) {
  if (tokens == 0) return;
  const int half = rotary_dim / 2;
  if (half % 8 != 0 || half > kMaxRopeHalf) {  // pairs that straddle vectors: two passes
    LaunchRope(type, qkv, tokens, num_heads + 2 * kv_heads, num_heads + kv_heads, head_dim,
               rotary_dim, positions, inv_freq, stream);
    LaunchWriteKv(type, qkv, tokens, num_heads, kv_heads, head_dim, slots, k_cache, v_cache,
                  stream);
    return;
  }
  DispatchFloat(type, [&](auto zero) {
    using T = decltype(zero);
    // A thread per vector of the token: one pass, which a lone decode token's latency
    // needs (ThreadsFor caps at 1024).
    const int vectors = (num_heads + 2 * kv_heads) * head_dim / 8;
    LaunchPdl(RopeWriteKvKernel<T>, tokens, ThreadsFor(vectors), 0, stream, static_cast<T*>(qkv),
              num_heads, kv_heads, head_dim, half, positions, inv_freq, slots,
              static_cast<T*>(k_cache), static_cast<T*>(v_cache));
  });
}

void LaunchWriteKv(FloatType type, const void* qkv, int tokens, int num_heads, int kv_heads,
                   int head_dim, const int32_t* slots, void* k_cache, void* v_cache,
                   cudaStream_t stream) {
  if (tokens == 0) return;
  const int row = kv_heads * head_dim;
  DispatchFloat(type, [&](auto zero) {
    using T = decltype(zero);
    LaunchPdl(WriteKvKernel<T>, tokens, ThreadsFor(row / 8), 0, stream, static_cast<const T*>(qkv),
              num_heads + 2 * kv_heads, num_heads, row, head_dim, slots, static_cast<T*>(k_cache),
              static_cast<T*>(v_cache));
  });
}

void LaunchSiluAndMul(FloatType type, const void* x, int rows, int inter, void* out,
                      cudaStream_t stream) {
  if (rows == 0) return;
  const int vectors = inter / 8;
  const dim3 grid(rows, (vectors + kRowThreads - 1) / kRowThreads);
  DispatchFloat(type, [&](auto zero) {
    using T = decltype(zero);
    LaunchPdl(SiluAndMulKernel<T>, grid, kRowThreads, 0, stream, static_cast<const T*>(x), inter,
              static_cast<T*>(out));
  });
}

void LaunchAdd(FloatType type, const void* x, int64_t count, void* out, cudaStream_t stream) {
  if (count == 0) return;
  const int64_t vectors = count / 8;
  const int64_t blocks = (vectors + kRowThreads - 1) / kRowThreads;
  DispatchFloat(type, [&](auto zero) {
    using T = decltype(zero);
    LaunchPdl(AddKernel<T>, static_cast<unsigned>(blocks), kRowThreads, 0, stream,
              static_cast<const T*>(x), vectors, static_cast<T*>(out));
  });
}

void LaunchBroadcastRows(FloatType type, const void* bias, int rows, int cols, void* out,
                         cudaStream_t stream) {
  if (rows == 0) return;
  DispatchFloat(type, [&](auto zero) {
    using T = decltype(zero);
    LaunchPdl(BroadcastRowsKernel<T>, rows, kRowThreads, 0, stream, static_cast<const T*>(bias),
              cols, static_cast<T*>(out));
  });
}

}  // namespace loom::cuda
