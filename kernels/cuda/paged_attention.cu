// Paged causal attention with grouped-query sharing, flash-style, for prefill chunks and
// decode alike (kernels/backend.h, AttentionBatch).
//
// Work split: a block takes one sequence (grid x), one tile of its query rows (grid y)
// and one KV head with one share ("split") of its keys (grid z = kv_heads * splits).
// When the host knows q_indptr, a launch with several tiles per sequence instead lists
// only the tiles that exist (grid x over all of them, tile_indptr per sequence), so that
// one long prefill chunk beside hundreds of decodes launches no idle blocks.
// A query row is a (token, query head) pair; a sequence's rows are numbered token-major
// over the `group` query heads that read one KV head, so a decode step's tile is just
// the group of one token, and a prefill tile is several tokens' groups. Every row of a
// tile reads the same keys, so each key and value is loaded once per tile.
//
// Per block: 4 warps, each owning kRowsPerWarp rows. The keys are walked in tiles of 32,
// gathered through the block table into shared memory. Scores are lane-per-key (lane j
// dots every row of its warp with key j), then each row runs the online softmax in
// base 2 (running max m, running sum l, both replicated across the warp) and the values
// are accumulated lane-per-dimension in fp32 registers.
//
// Splits: with S > 1 the keys of a sequence are cut into S equal shares (rounded up to
// the key tile), so that short batches still fill the GPU (flash-decoding). Each block
// then writes its unnormalized accumulator with its (m, l) to fp32 partials, and
// CombineSplits merges them. S = 1 writes the normalized output directly.
#include <cfloat>
#include <vector>

#include "kernels/cuda/float_traits.cuh"
#include "kernels/cuda/launch.h"

namespace loom::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kKeyTile = 32;
constexpr float kLog2e = 1.4426950408889634f;

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

  // Either one block per (sequence, tile), or a list of the tiles that exist: tile_indptr
  // holds each sequence's first tile, and a binary search finds a block's sequence.
  int seq = blockIdx.x;
  int tile_index = blockIdx.y;
  if (p.tile_indptr != nullptr) {
    int lo = 0;
    int hi = p.num_seqs;  // tile_indptr[lo] <= blockIdx.x < tile_indptr[hi]
    while (hi - lo > 1) {
      const int mid = (lo + hi) / 2;
      if (p.tile_indptr[mid] <= static_cast<int>(blockIdx.x)) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    seq = lo;
    tile_index = blockIdx.x - p.tile_indptr[lo];
  }
  const int kv_head = blockIdx.z / p.num_splits;
  const int split = blockIdx.z % p.num_splits;
  const int group = p.num_heads / p.kv_heads;
  const int q_begin = p.q_indptr[seq];
  const int q_len = p.q_indptr[seq + 1] - q_begin;
  const int seq_rows = q_len * group;
  const int row0 = tile_index * kRows;
  if (row0 >= seq_rows || seq_rows <= p.rows_above || seq_rows > p.rows_at_most) return;

  const int kv_begin = p.kv_indptr[seq];
  const int kv_len =
      (p.kv_indptr[seq + 1] - kv_begin - 1) * p.block_size + p.kv_last_block_len[seq];
  const int first_pos = kv_len - q_len;  // position of the sequence's first new token
  const int last_row = min(row0 + kRows, seq_rows) - 1;
  const int tile_end = first_pos + last_row / group + 1;  // no row here sees a key past it
  const int split_len =
      ((kv_len + p.num_splits - 1) / p.num_splits + kKeyTile - 1) / kKeyTile * kKeyTile;
  const int k_begin = split * split_len;
  const int k_end = min(k_begin + split_len, tile_end);

  const int total_heads = p.num_heads + 2 * p.kv_heads;
  const T* qkv = static_cast<const T*>(p.qkv);
  for (int idx = threadIdx.x; idx < kRows * kVecs; idx += blockDim.x) {
    const int r = idx / kVecs;
    const int c = (idx % kVecs) * 8;
    const int row = row0 + r;
    Vec8<T> q{};
    if (row < seq_rows) {
      const int64_t token = q_begin + row / group;
      const int head = kv_head * group + row % group;
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
    position[r] = first_pos + (row0 + warp * kRowsPerWarp + r) / group;
    m[r] = -INFINITY;
    l[r] = 0.0f;
#pragma unroll
    for (int e = 0; e < kDimsPerLane; ++e) acc[r][e] = 0.0f;
  }

  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);
  const float scale_log2 = p.scale * kLog2e;
  for (int tile = k_begin; tile < k_end; tile += kKeyTile) {
    __syncthreads();  // the previous tile is consumed; q_s is written on the first pass
    for (int idx = threadIdx.x; idx < kKeyTile * kVecs; idx += blockDim.x) {
      const int key = idx / kVecs;
      const int c = (idx % kVecs) * 8;
      const int kpos = tile + key;
      Vec8<T> kv{};
      Vec8<T> vv{};
      if (kpos < k_end) {
        const int64_t block = p.kv_indices[kv_begin + kpos / p.block_size];
        const int64_t slot = block * p.block_size + kpos % p.block_size;
        const int64_t offset = (slot * p.kv_heads + kv_head) * kHeadDim + c;
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
      const bool visible = kpos < k_end && kpos <= position[r];
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
    const int row = row0 + warp * kRowsPerWarp + r;
    if (row >= seq_rows) continue;
    const int64_t token = q_begin + row / group;
    const int64_t head = kv_head * group + row % group;
    const int64_t out_row = token * p.num_heads + head;
    if (p.num_splits == 1) {
      T* out = static_cast<T*>(p.out) + out_row * kHeadDim + lane * kDimsPerLane;
      const float inv = 1.0f / l[r];
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) out[e] = FromFloat<T>(acc[r][e] * inv);
    } else {
      const int64_t partial = out_row * p.num_splits + split;
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
// One block per (token, head), one thread per dimension. The splits' weights are
// computed once into shared memory; the loads of the partials are then independent.
template <typename T>
__global__ void CombineSplits(PagedAttentionParams p) {
  __shared__ float weight[kMaxAttentionSplits];
  __shared__ float inv_sum;
  const int64_t row = blockIdx.x;
  const int d = threadIdx.x;
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
  const float* partial = p.partial_out + row * p.num_splits * p.head_dim + d;
  float value = 0.0f;
#pragma unroll 8
  for (int s = 0; s < p.num_splits; ++s) value = fmaf(partial[s * p.head_dim], weight[s], value);
  static_cast<T*>(p.out)[row * p.head_dim + d] = FromFloat<T>(value * inv_sum);
}

template <typename T, int kHeadDim, int kRowsPerWarp>
void LaunchTiled(const PagedAttentionParams& p_in, cudaStream_t stream) {
  constexpr int kRows = kWarps * kRowsPerWarp;
  PagedAttentionParams p = p_in;
  const int group = p.num_heads / p.kv_heads;
  dim3 grid(p.num_seqs, (p.max_q_len * group + kRows - 1) / kRows, p.kv_heads * p.num_splits);
  if (p.host_q_indptr != nullptr && p.num_seqs + 1 <= p.tile_scratch_capacity && grid.y > 1) {
    // List the tiles of the sequences this launch serves. The copy is from pageable
    // memory, so it is staged before cudaMemcpyAsync returns and `tiles` may go.
    std::vector<int32_t> tiles(p.num_seqs + 1, 0);
    for (int s = 0; s < p.num_seqs; ++s) {
      const int rows = (p.host_q_indptr[s + 1] - p.host_q_indptr[s]) * group;
      const bool served = rows > p.rows_above && rows <= p.rows_at_most;
      tiles[s + 1] = tiles[s] + (served ? (rows + kRows - 1) / kRows : 0);
    }
    if (tiles.back() == 0) return;
    cudaMemcpyAsync(p.tile_scratch, tiles.data(), tiles.size() * sizeof(int32_t),
                    cudaMemcpyHostToDevice, stream);
    p.tile_indptr = p.tile_scratch;
    grid = dim3(tiles.back(), 1, p.kv_heads * p.num_splits);
  }
  PagedAttentionTiled<T, kHeadDim, kRowsPerWarp><<<grid, kWarps * 32, 0, stream>>>(p);
}

// One launch whose tile covers the longest sequence's rows (capped where the fp32
// accumulators, rows x head_dim / 32 per lane, would spill).
template <typename T, int kHeadDim>
void LaunchForHeadDimOnce(const PagedAttentionParams& p, cudaStream_t stream) {
  const int rows = p.max_q_len * (p.num_heads / p.kv_heads);
  constexpr int kMaxRowsPerWarp = kHeadDim >= 256 ? 4 : 16;
  if (rows <= kWarps * 1) return LaunchTiled<T, kHeadDim, 1>(p, stream);
  if (rows <= kWarps * 2) return LaunchTiled<T, kHeadDim, 2>(p, stream);
  if constexpr (kMaxRowsPerWarp == 4) {
    LaunchTiled<T, kHeadDim, 4>(p, stream);
  } else {
    if (rows <= kWarps * 4) return LaunchTiled<T, kHeadDim, 4>(p, stream);
    if (rows <= kWarps * 8) return LaunchTiled<T, kHeadDim, 8>(p, stream);
    LaunchTiled<T, kHeadDim, 16>(p, stream);
  }
}

// Mixed batches run as two launches (below); others as one.
template <typename T, int kHeadDim>
void LaunchForHeadDim(const PagedAttentionParams& p, cudaStream_t stream) {
  const int rows = p.max_q_len * (p.num_heads / p.kv_heads);
  const int decode_rows = p.num_heads / p.kv_heads;
  if (rows > decode_rows && decode_rows <= kWarps * 2 && p.num_splits == 1) {
    // A mixed batch: the decodes (one token each) in tiles of one token's rows, the
    // prefill chunks in large tiles, so that neither pays for the other's tile size.
    PagedAttentionParams decodes = p;
    decodes.rows_at_most = decode_rows;
    decodes.max_q_len = 1;
    LaunchForHeadDimOnce<T, kHeadDim>(decodes, stream);
    PagedAttentionParams chunks = p;
    chunks.rows_above = decode_rows;
    return LaunchForHeadDimOnce<T, kHeadDim>(chunks, stream);
  }
  LaunchForHeadDimOnce<T, kHeadDim>(p, stream);
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
      CombineSplits<T><<<p.num_tokens * p.num_heads, p.head_dim, 0, stream>>>(p);
    }
  });
}

}  // namespace loom::cuda
