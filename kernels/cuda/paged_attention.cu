// Paged causal attention with grouped-query sharing, flash-style, for prefill chunks and
// decode alike (kernels/backend.h, AttentionBatch).
//
// Work split (paged_attention_common.cuh): a block takes one tile of query rows of one
// sequence, one KV head and one share ("split") of its keys. A query row is a (token,
// query head) pair, numbered token-major over the `group` query heads that read one KV
// head, so a decode step's tile is the group of one token and a prefill tile is several
// tokens' groups. Every row of a tile reads the same keys, so each key and value is
// loaded once per tile. When the host knows q_indptr, a launch with several tiles per
// sequence lists only the tiles that exist, so that one long prefill chunk beside
// hundreds of decodes launches no idle blocks.
//
// Two kernels: heads of 32 to 128 run on the tensor cores (paged_attention_mma.cuh).
// Heads of 256, whose fragments would not fit in registers, run the scalar kernel here:
// 4 warps, each owning kRowsPerWarp rows; keys in tiles of 32, gathered through the
// block table into shared memory; scores lane-per-key (lane j dots every row of its warp
// with key j); the online softmax in base 2 per row (running max m, running sum l, both
// replicated across the warp); values accumulated lane-per-dimension in fp32 registers.
//
// Splits: with S > 1 the keys of a sequence are cut into S equal shares (rounded up to
// the key tile), so that short batches still fill the GPU (flash-decoding). Each block
// then writes its unnormalized accumulator with its (m, l) to fp32 partials, and
// CombineSplits merges them. S = 1 writes the normalized output directly.
#include <cfloat>

#include "kernels/cuda/float_traits.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/paged_attention_common.cuh"
#include "kernels/cuda/paged_attention_mma.cuh"
#include "kernels/cuda/pdl.cuh"

namespace loom::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kKeyTile = 32;

template <typename T, int kHeadDim, int kRowsPerWarp>
__global__ void __launch_bounds__(kWarps * 32) PagedAttentionTiled(PagedAttentionParams p) {
  constexpr int kRows = kWarps * kRowsPerWarp;
  constexpr int kDimsPerLane = kHeadDim / 32;
  constexpr int kVecs = kHeadDim / 8;
  constexpr int kKeyStride = kHeadDim + 8;  // pads lane-per-key reads off one bank
  __shared__ alignas(16) T q_s[kRows][kHeadDim];
  __shared__ alignas(16) T k_s[kKeyTile][kKeyStride];
  __shared__ alignas(16) T v_s[kKeyTile][kHeadDim];
  __shared__ float p_s[kRows][kKeyTile];

  WaitForPriorGrids();
  AllowDependentLaunch();
  BlockWork w;
  if (!PlanBlock(p, kRows, kKeyTile, &w)) return;

  const int total_heads = p.num_heads + 2 * p.kv_heads;
  const T* qkv = static_cast<const T*>(p.qkv);
  for (int idx = threadIdx.x; idx < kRows * kVecs; idx += blockDim.x) {
    const int r = idx / kVecs;
    const int c = (idx % kVecs) * 8;
    const int row = w.row0 + r;
    Vec8<T> q{};
    if (row < w.seq_rows) {
      const int64_t token = w.q_begin + row / w.group;
      const int head = w.kv_head * w.group + row % w.group;
      q = LoadVec8(qkv + (token * total_heads + head) * kHeadDim + c);
    } else {
#pragma unroll
      for (int j = 0; j < 8; ++j) q.v[j] = FromFloat<T>(0.0f);
    }
    StoreVec8(&q_s[r][c], q);
  }

  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  int position[kRowsPerWarp];
  float m[kRowsPerWarp];
  float l[kRowsPerWarp];
  float acc[kRowsPerWarp][kDimsPerLane];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    position[r] = w.first_pos + (w.row0 + warp * kRowsPerWarp + r) / w.group;
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int e = 0; e < kDimsPerLane; ++e) acc[r][e] = 0.0f;
  }

  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);
  const float scale_log2 = p.scale * kLog2e;
  for (int tile = w.k_begin; tile < w.k_end; tile += kKeyTile) {
    __syncthreads();  // the previous tile is consumed; q_s is written on the first pass
    for (int idx = threadIdx.x; idx < kKeyTile * kVecs; idx += blockDim.x) {
      const int key = idx / kVecs;
      const int c = (idx % kVecs) * 8;
      const int kpos = tile + key;
      Vec8<T> kv{};
      Vec8<T> vv{};
      if (kpos < w.k_end) {
        const int64_t block = p.kv_indices[w.kv_begin + kpos / p.block_size];
        const int64_t slot = block * p.block_size + kpos % p.block_size;
        const int64_t offset = (slot * p.kv_heads + w.kv_head) * kHeadDim + c;
        kv = LoadVec8(k_cache + offset);
        vv = LoadVec8(v_cache + offset);
      } else {
#pragma unroll
        for (int j = 0; j < 8; ++j) kv.v[j] = vv.v[j] = FromFloat<T>(0.0f);
      }
      StoreVec8(&k_s[key][c], kv);
      StoreVec8(&v_s[key][c], vv);
    }
    __syncthreads();

    float s[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) s[r] = 0.0f;
#pragma unroll 4
    for (int c = 0; c < kHeadDim; c += 8) {
      const Vec8<T> k8 = LoadVec8(&k_s[lane][c]);
      float kf[8];
#pragma unroll
      for (int j = 0; j < 8; ++j) kf[j] = ToFloat(k8.v[j]);
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        const Vec8<T> q8 = LoadVec8(&q_s[warp * kRowsPerWarp + r][c]);
#pragma unroll
        for (int j = 0; j < 8; ++j) s[r] = fmaf(ToFloat(q8.v[j]), kf[j], s[r]);
      }
    }
    const int kpos = tile + lane;
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const bool visible = kpos < w.k_end && kpos <= position[r];
      const float score = visible ? s[r] * scale_log2 : -INFINITY;
      const float m_new = fmaxf(m[r], WarpMax(score));
      float prob = 0.0f;
      float correction = 1.0f;
      if (m_new != -INFINITY) {
        prob = exp2f(score - m_new);
        correction = exp2f(m[r] - m_new);
      }
      l[r] = l[r] * correction + WarpSum(prob);
      m[r] = m_new;
      p_s[warp * kRowsPerWarp + r][lane] = prob;
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) acc[r][e] *= correction;
    }
    __syncwarp();
    for (int j = 0; j < kKeyTile; ++j) {
      float vf[kDimsPerLane];
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) vf[e] = ToFloat(v_s[j][lane * kDimsPerLane + e]);
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        const float prob = p_s[warp * kRowsPerWarp + r][j];
#pragma unroll
        for (int e = 0; e < kDimsPerLane; ++e) acc[r][e] = fmaf(prob, vf[e], acc[r][e]);
      }
    }
  }

#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int row = w.row0 + warp * kRowsPerWarp + r;
    if (row >= w.seq_rows) continue;
    const int64_t token = w.q_begin + row / w.group;
    const int64_t head = w.kv_head * w.group + row % w.group;
    const int64_t out_row = token * p.num_heads + head;
    if (p.num_splits == 1) {
      T* out = static_cast<T*>(p.out) + out_row * kHeadDim + lane * kDimsPerLane;
      const float inv = 1.0f / l[r];
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) out[e] = FromFloat<T>(acc[r][e] * inv);
    } else {
      const int64_t partial = out_row * p.num_splits + w.split;
      float* out = p.partial_out + partial * kHeadDim + lane * kDimsPerLane;
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) out[e] = acc[r][e];
      if (lane == 0) {
        p.partial_max_sum[2 * partial] = m[r];
        p.partial_max_sum[2 * partial + 1] = l[r];
      }
    }
  }
}

// out[row] = sum_s acc_s * 2^(m_s - M) / sum_s l_s * 2^(m_s - M), M = max_s m_s.
// One block of kCombineThreads per (token, head). The splits' weights are computed once
// into shared memory; then each thread takes 4 dimensions (a float4) of every
// split_groups-th split, so that all of a thread's loads of partials are in flight at
// once, and shares with no visible key (weight 0: a short sequence leaves most of a
// graph's splits empty) are not read. The groups' sums meet in shared memory.
constexpr int kCombineThreads = 128;

template <typename T>
__global__ void __launch_bounds__(kCombineThreads) CombineSplits(PagedAttentionParams p) {
  __shared__ float weight[kMaxAttentionSplits];
  __shared__ float inv_sum;
  __shared__ float4 group_sums[kCombineThreads];
  // Released early, the next kernel (whose prologue reads only weights) starts its loads
  // while the first pass still runs; this kernel's few blocks leave it the room.
  if (p.combine_releases_early) AllowDependentLaunch();
  WaitForPriorGrids();
  if (!p.combine_releases_early) AllowDependentLaunch();
  const int64_t row = blockIdx.x;
  const float* ml = p.partial_max_sum + row * p.num_splits * 2;
  if (threadIdx.x < 32) {
    float max_all = -INFINITY;
    for (int s = threadIdx.x; s < p.num_splits; s += 32) max_all = fmaxf(max_all, ml[2 * s]);
    max_all = WarpMax(max_all);
    float sum = 0.0f;
    for (int s = threadIdx.x; s < p.num_splits; s += 32) {
      // A share with no visible key has l = 0 and m = -inf: weight 0.
      const float w = ml[2 * s + 1] > 0.0f ? exp2f(ml[2 * s] - max_all) : 0.0f;
      weight[s] = w;
      sum += ml[2 * s + 1] * w;
    }
    sum = WarpSum(sum);
    if (threadIdx.x == 0) inv_sum = sum > 0.0f ? 1.0f / sum : 0.0f;
  }
  __syncthreads();
  const int dim_groups = p.head_dim / 4;  // head_dim <= 4 * kCombineThreads
  const int split_groups = kCombineThreads / dim_groups;
  const int d4 = threadIdx.x % dim_groups;
  const int first_split = threadIdx.x / dim_groups;
  const float4* partial =
      reinterpret_cast<const float4*>(p.partial_out + row * p.num_splits * p.head_dim) + d4;
  float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll 4
  for (int s = first_split; s < p.num_splits; s += split_groups) {
    const float w = weight[s];
    if (w == 0.0f) continue;
    const float4 v = partial[s * dim_groups];
    acc.x = fmaf(v.x, w, acc.x);
    acc.y = fmaf(v.y, w, acc.y);
    acc.z = fmaf(v.z, w, acc.z);
    acc.w = fmaf(v.w, w, acc.w);
  }
  group_sums[threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.x >= dim_groups) return;
  for (int g = 1; g < split_groups; ++g) {
    const float4 v = group_sums[g * dim_groups + d4];
    acc.x += v.x;
    acc.y += v.y;
    acc.z += v.z;
    acc.w += v.w;
  }
  T* out = static_cast<T*>(p.out) + row * p.head_dim + 4 * d4;
  out[0] = FromFloat<T>(acc.x * inv_sum);
  out[1] = FromFloat<T>(acc.y * inv_sum);
  out[2] = FromFloat<T>(acc.z * inv_sum);
  out[3] = FromFloat<T>(acc.w * inv_sum);
}

template <typename T, int kHeadDim, int kRowsPerWarp>
void LaunchTiled(const PagedAttentionParams& p_in, cudaStream_t stream) {
  PagedAttentionParams p = p_in;
  const dim3 grid = PlanGrid(&p, kWarps * kRowsPerWarp, stream);
  if (grid.x == 0) return;
  LaunchPdl(PagedAttentionTiled<T, kHeadDim, kRowsPerWarp>, grid, kWarps * 32, 0, stream, p);
}

// One launch whose tiles cover the longest sequence's rows: on the tensor cores for
// heads up to 128 (one warp per decode, four per prefill tile); otherwise the scalar
// kernel, its rows per warp capped where the fp32 accumulators would spill.
template <typename T, int kHeadDim>
void LaunchOnce(const PagedAttentionParams& p, cudaStream_t stream) {
  const int rows = p.max_q_len * (p.num_heads / p.kv_heads);
  if constexpr (kHeadDim <= 128) {
    if (rows <= 16) return LaunchMma<T, kHeadDim, 1>(p, stream);
    LaunchMma<T, kHeadDim, 4>(p, stream);
  } else {
    if (rows <= kWarps * 1) return LaunchTiled<T, kHeadDim, 1>(p, stream);
    if (rows <= kWarps * 2) return LaunchTiled<T, kHeadDim, 2>(p, stream);
    LaunchTiled<T, kHeadDim, 4>(p, stream);
  }
}

// Mixed batches run as two launches (below); others as one.
template <typename T, int kHeadDim>
void LaunchForHeadDim(const PagedAttentionParams& p, cudaStream_t stream) {
  const int rows = p.max_q_len * (p.num_heads / p.kv_heads);
  const int decode_rows = p.num_heads / p.kv_heads;
  const int smallest_tile = kHeadDim <= 128 ? 16 : kWarps * 2;
  if (rows > decode_rows && decode_rows <= smallest_tile && p.num_splits == 1) {
    // A mixed batch: the decodes (one token each) in the smallest tiles, the prefill
    // chunks in large ones, so that neither pays for the other's tile size.
    PagedAttentionParams decodes = p;
    decodes.rows_at_most = decode_rows;
    decodes.max_q_len = 1;
    LaunchOnce<T, kHeadDim>(decodes, stream);
    PagedAttentionParams chunks = p;
    chunks.rows_above = decode_rows;
    return LaunchOnce<T, kHeadDim>(chunks, stream);
  }
  LaunchOnce<T, kHeadDim>(p, stream);
}

}  // namespace

bool PagedAttentionSupports(int head_dim) {
  return head_dim == 32 || head_dim == 64 || head_dim == 128 || head_dim == 256;
}

void LaunchPagedAttention(const PagedAttentionParams& p, cudaStream_t stream) {
  if (p.num_seqs == 0 || p.num_tokens == 0) return;
  DispatchFloat(p.type, [&](auto zero) {
    using T = decltype(zero);
    switch (p.head_dim) {
      case 32:
        LaunchForHeadDim<T, 32>(p, stream);
        break;
      case 64:
        LaunchForHeadDim<T, 64>(p, stream);
        break;
      case 128:
        LaunchForHeadDim<T, 128>(p, stream);
        break;
      default:
        LaunchForHeadDim<T, 256>(p, stream);
        break;
    }
    if (p.num_splits > 1) {
      PagedAttentionParams combine = p;
      combine.combine_releases_early = CombineReleasesEarly();
      LaunchPdl(CombineSplits<T>, p.num_tokens * p.num_heads, kCombineThreads, 0, stream, combine);
    }
  });
}

}  // namespace loom::cuda
