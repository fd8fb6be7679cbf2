// Token sampling on the device: blocks of 1024 threads, one per logits row, or, for a
// few rows, p.chunks per row for the first pass, whose last block to finish goes on.
//
// Algorithm (every pass strides over the row, which stays in L2):
//  1. One pass, in 16-byte vectors where rows allow: the row's max (and its lowest
//     index: the greedy pick) and the sum of exp(x - max), kept online (rescaled when
//     the max grows), which give the chosen token's log probability under the raw
//     logits. A greedy row needs nothing more. With chunks, each block covers a share of
//     the row and leaves its (max, index, sum) in p.chunk_partials; the last of the
//     row's blocks (a counter in p.chunk_counters, which it resets) merges them and
//     runs the rest alone.
//  2. Temperature > 0: the kept set is "key > threshold, or key == threshold and index
//     <= cut", where key orders logits as unsigned integers. top_k finds the k-th
//     largest key by radix selection (four 8-bit histogram passes). top_p then finds,
//     among the top-k survivors, the key where the mass sorted from the top first
//     reaches top_p, by the same selection over probability mass. Ties at a threshold
//     are cut in index order, as the CPU sampler's sort (descending logit, then id)
//     orders them; tokens with equal logits have equal probability, so the number of
//     tied tokens needed follows from a division.
//  3. The draw: target = uniform * kept mass, then a block scan walks the kept tokens
//     in index order to the first whose cumulative mass exceeds the target.
#include <cfloat>
#include <climits>

#include "kernels/cuda/float_traits.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/pdl.cuh"

namespace loom::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;
constexpr int kBins = 256;

// Orders floats as unsigned integers: a < b iff Key(a) < Key(b).
__device__ __forceinline__ uint32_t Key(float x) {
  const uint32_t bits = __float_as_uint(x);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

__device__ __forceinline__ float FromKey(uint32_t key) {
  return __uint_as_float((key & 0x80000000u) ? key & 0x7fffffffu : ~key);
}

// The kept set: key > threshold, or key == threshold and index <= cut.
struct Cut {
  uint32_t threshold;
  int cut;
};

__device__ __forceinline__ bool Kept(uint32_t key, int index, Cut c) {
  return key > c.threshold || (key == c.threshold && index <= c.cut);
}

struct Shared {
  float warp_f[kWarps];
  int warp_i[kWarps];
  float warp_sum[kWarps];
  float bin_mass[kBins];
  int bin_count[kBins];
  uint32_t prefix;
  int need_count;
  float need_mass;
  int pick;
  int cut;
  bool last;
};

// Inclusive block scan of v; `total` gets the block's sum. All threads call it.
template <typename V>
__device__ V BlockScan(V v, V* warp_sums, V* total) {
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
#pragma unroll
  for (int offset = 1; offset < 32; offset <<= 1) {
    const V n = __shfl_up_sync(0xffffffffu, v, offset);
    if (lane >= offset) v += n;
  }
  __syncthreads();
  if (lane == 31) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    V w = warp_sums[lane];
#pragma unroll
    for (int offset = 1; offset < 32; offset <<= 1) {
      const V n = __shfl_up_sync(0xffffffffu, w, offset);
      if (lane >= offset) w += n;
    }
    warp_sums[lane] = w;
  }
  __syncthreads();
  const V before = warp > 0 ? warp_sums[warp - 1] : V(0);
  *total = warp_sums[kWarps - 1];
  return v + before;
}

// The index of the n-th (1-based) token, in index order, with key == threshold among
// those already kept by `keep`.
template <typename T>
__device__ int NthTied(const T* row, int vocab, uint32_t threshold, Cut keep, int n, Shared& sh) {
  int seen = 0;
  if (threadIdx.x == 0) sh.cut = vocab - 1;
  for (int base = 0; base < vocab; base += kThreads) {
    const int i = base + threadIdx.x;
    int flag = 0;
    if (i < vocab) {
      const uint32_t key = Key(ToFloat(row[i]));
      flag = key == threshold && Kept(key, i, keep);
    }
    int chunk_total;
    const int rank = BlockScan(flag, sh.warp_i, &chunk_total);  // inclusive
    if (flag && seen + rank == n) sh.cut = i;
    seen += chunk_total;
    if (seen >= n) break;  // uniform across the block
  }
  __syncthreads();
  return sh.cut;
}

// Radix selection of the threshold key where a count (kCountMass false) or the
// probability mass (true) of the kept tokens, summed from the largest key down, first
// reaches `target`. Leaves in sh.need_count / sh.need_mass how much of the threshold's
// own bin is still needed.
template <typename T, bool kMass>
__device__ uint32_t SelectThreshold(const T* row, int vocab, Cut keep, float max_logit,
                                    float inv_temperature, float target, Shared& sh) {
  uint32_t prefix = 0;
  uint32_t mask = 0;
  float need = target;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < kBins; b += kThreads) {
      sh.bin_mass[b] = 0.0f;
      sh.bin_count[b] = 0;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < vocab; i += kThreads) {
      const float x = ToFloat(row[i]);
      const uint32_t key = Key(x);
      if ((key & mask) != prefix || !Kept(key, i, keep)) continue;
      const int bin = (key >> shift) & (kBins - 1);
      if constexpr (kMass) {
        atomicAdd(&sh.bin_mass[bin], exp2f((x - max_logit) * inv_temperature));
      } else {
        atomicAdd(&sh.bin_count[bin], 1);
      }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      float above = 0.0f;
      int bin = kBins - 1;
      for (; bin > 0; --bin) {
        const float here = kMass ? sh.bin_mass[bin] : static_cast<float>(sh.bin_count[bin]);
        if (above + here >= need) break;
        above += here;
      }
      need -= above;
      sh.prefix = prefix | (static_cast<uint32_t>(bin) << shift);
      sh.need_mass = need;
    }
    __syncthreads();
    prefix = sh.prefix;
    need = sh.need_mass;
    mask |= static_cast<uint32_t>(kBins - 1) << shift;
    __syncthreads();
  }
  sh.need_mass = need;
  return prefix;
}

// The kept tokens' total of 2^((x - max) * inv_temperature); every thread gets it.
template <typename T>
__device__ float KeptMass(const T* row, int vocab, Cut keep, float max_logit, float inv_temperature,
                          Shared& sh) {
  float mass = 0.0f;
  for (int i = threadIdx.x; i < vocab; i += kThreads) {
    const float x = ToFloat(row[i]);
    if (Kept(Key(x), i, keep)) mass += exp2f((x - max_logit) * inv_temperature);
  }
  float total;
  BlockScan(mass, sh.warp_f, &total);
  return total;
}

// A running max with its lowest index and the sum of exp(x - max) over what it has seen.
struct MaxSum {
  float max = -INFINITY;
  int index = INT_MAX;
  float sum = 0.0f;

  __device__ __forceinline__ void Add(float x, int i) {
    if (x > max) {
      sum *= expf(max - x);  // 0 while nothing was seen
      max = x;
      index = i;
    }
    sum += x > -INFINITY ? expf(x - max) : 0.0f;
  }
  __device__ __forceinline__ void Merge(const MaxSum& o) {
    const float m = fmaxf(max, o.max);
    // A side that saw nothing has sum 0 and max -inf, and adds nothing.
    sum =
        (sum > 0.0f ? sum * expf(max - m) : 0.0f) + (o.sum > 0.0f ? o.sum * expf(o.max - m) : 0.0f);
    if (o.max > max || (o.max == max && o.index < index)) index = o.index;
    max = m;
  }
};

// The block's MaxSum of every thread's `acc`, for every thread.
__device__ MaxSum BlockMaxSum(MaxSum acc, Shared& sh) {
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    acc.Merge(MaxSum{__shfl_xor_sync(0xffffffffu, acc.max, offset),
                     __shfl_xor_sync(0xffffffffu, acc.index, offset),
                     __shfl_xor_sync(0xffffffffu, acc.sum, offset)});
  }
  __syncthreads();  // sh's warp slots may still be read from a previous call
  if (lane == 0) {
    sh.warp_f[warp] = acc.max;
    sh.warp_i[warp] = acc.index;
    sh.warp_sum[warp] = acc.sum;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    MaxSum all{sh.warp_f[0], sh.warp_i[0], sh.warp_sum[0]};
    for (int w = 1; w < kWarps; ++w) all.Merge(MaxSum{sh.warp_f[w], sh.warp_i[w], sh.warp_sum[w]});
    sh.warp_f[0] = all.max;
    sh.warp_i[0] = all.index;
    sh.warp_sum[0] = all.sum;
  }
  __syncthreads();
  const MaxSum all{sh.warp_f[0], sh.warp_i[0], sh.warp_sum[0]};
  __syncthreads();
  return all;
}

// Grid: (p.chunks, rows).
template <typename T>
__global__ void __launch_bounds__(kThreads) SampleRows(SampleParams p) {
  __shared__ Shared sh;
  const int r = blockIdx.y;
  const int chunk = blockIdx.x;
  const int chunks = gridDim.x;
  const T* row = static_cast<const T*>(p.logits) + static_cast<int64_t>(r) * p.vocab;
  WaitForPriorGrids();
  AllowDependentLaunch();

  // 1. The max with its lowest index, and the sum of exp(x - max), in one pass.
  MaxSum acc;
  if (p.vocab % 8 == 0) {  // the row starts on a 16-byte boundary
    const int vectors = p.vocab / 8;
    const int per_chunk = (vectors + chunks - 1) / chunks;
    const int end = min(vectors, (chunk + 1) * per_chunk);
#pragma unroll 4
    for (int v = chunk * per_chunk + threadIdx.x; v < end; v += kThreads) {
      const Vec8<T> x = LoadVec8(row + 8 * v);
#pragma unroll
      for (int j = 0; j < 8; ++j) acc.Add(ToFloat(x.v[j]), 8 * v + j);
    }
  } else {  // LaunchSample gives such rows one chunk
    for (int i = threadIdx.x; i < p.vocab; i += kThreads) acc.Add(ToFloat(row[i]), i);
  }
  MaxSum all = BlockMaxSum(acc, sh);
  if (chunks > 1) {
    float* share = p.chunk_partials + (static_cast<int64_t>(r) * chunks + chunk) * 4;
    if (threadIdx.x == 0) {
      share[0] = all.max;
      share[1] = __int_as_float(all.index);
      share[2] = all.sum;
      __threadfence();  // the share is visible before the count that announces it
      const int finished = atomicAdd(&p.chunk_counters[r], 1) + 1;
      sh.last = finished == chunks;
      if (sh.last) p.chunk_counters[r] = 0;  // ready for the next launch
    }
    __syncthreads();
    if (!sh.last) return;
    __threadfence();
    MaxSum mine;
    if (threadIdx.x < chunks) {
      const float* other = p.chunk_partials + (static_cast<int64_t>(r) * chunks + threadIdx.x) * 4;
      mine = MaxSum{__ldcg(other), __float_as_int(__ldcg(other + 1)), __ldcg(other + 2)};
    }
    all = BlockMaxSum(mine, sh);
  }
  const float max_logit = all.max;
  const int argmax = all.index;
  const float log_sum = logf(all.sum);

  const float temperature = p.temperature[r];
  int pick = argmax;
  if (temperature > 0.0f) {
    // Probabilities relative to the best token, in base 2: 2^((x - max) * log2e / T).
    const float inv_temperature = 1.4426950408889634f / temperature;
    Cut keep{0u, p.vocab};  // everything
    const int top_k = p.top_k[r];
    if (top_k > 0 && top_k < p.vocab) {
      const uint32_t threshold = SelectThreshold<T, false>(
          row, p.vocab, keep, max_logit, inv_temperature, static_cast<float>(top_k), sh);
      const int need = static_cast<int>(sh.need_mass + 0.5f);
      keep = Cut{threshold, NthTied(row, p.vocab, threshold, keep, need, sh)};
    }
    float kept_mass = KeptMass(row, p.vocab, keep, max_logit, inv_temperature, sh);
    const float top_p = p.top_p[r];
    if (top_p < 1.0f) {
      const uint32_t threshold = SelectThreshold<T, true>(row, p.vocab, keep, max_logit,
                                                          inv_temperature, top_p * kept_mass, sh);
      // Tied tokens carry equal mass: take as many as the remaining mass needs.
      const float tied_prob = exp2f((FromKey(threshold) - max_logit) * inv_temperature);
      const int need = max(1, static_cast<int>(ceilf(sh.need_mass / tied_prob)));
      keep = Cut{threshold, NthTied(row, p.vocab, threshold, keep, need, sh)};
      kept_mass = KeptMass(row, p.vocab, keep, max_logit, inv_temperature, sh);
    }

    // 3. The draw, in index order.
    const float target = p.uniform[r] * kept_mass;
    if (threadIdx.x == 0) sh.pick = -1;
    int last_kept = -1;
    float seen = 0.0f;
    for (int base = 0; base < p.vocab; base += kThreads) {
      const int i = base + threadIdx.x;
      float prob = 0.0f;
      if (i < p.vocab) {
        const float xi = ToFloat(row[i]);
        if (Kept(Key(xi), i, keep)) {
          prob = exp2f((xi - max_logit) * inv_temperature);
          last_kept = i;
        }
      }
      float chunk;
      const float inclusive = BlockScan(prob, sh.warp_f, &chunk);
      if (prob > 0.0f && seen + inclusive > target && seen + inclusive - prob <= target) {
        atomicMin(reinterpret_cast<unsigned*>(&sh.pick), static_cast<unsigned>(i));
      }
      seen += chunk;
      __syncthreads();
      if (sh.pick >= 0) break;  // uniform across the block
    }
    if (sh.pick < 0) {
      // Rounding put the target past the scanned mass: the last kept token.
      __syncthreads();
      if (threadIdx.x == 0) sh.pick = 0;
      __syncthreads();
      atomicMax(&sh.pick, last_kept);
      __syncthreads();
    }
    pick = sh.pick;
  }
  if (threadIdx.x == 0) {
    p.out_ids[r] = pick;
    p.out_logprobs[r] = ToFloat(row[pick]) - max_logit - log_sum;
  }
}

}  // namespace

void LaunchSample(const SampleParams& p, cudaStream_t stream) {
  if (p.rows == 0) return;
  DispatchFloat(p.type, [&](auto zero) {
    using T = decltype(zero);
    const int chunks = p.vocab % 8 == 0 && p.chunk_partials != nullptr ? p.chunks : 1;
    LaunchPdl(SampleRows<T>, dim3(chunks, p.rows), kThreads, 0, stream, p);
  });
}

}  // namespace loom::cuda
