// Paged attention on the tensor cores (mma.sync m16n8k16, fp32 accumulation), for head
// sizes 32, 64 and 128: the kernel for decode and prefill alike.
//
// Work split (paged_attention_common.cuh): a block of kWarps warps takes 16 * kWarps
// query rows of one sequence and one KV head, and one share of its keys; each warp owns
// 16 of the rows. A decode's rows are one token's query heads, so a decode block is one
// warp (rows past the group are zeros and are never written).
//
// Per block, the keys are walked in tiles of kKeys, gathered through the block table
// into shared memory with cp.async, two stages deep, so that the next tile's loads are
// in flight while this one is used. Per warp and tile:
//   S = Q K^T      Q in registers (A fragments, loaded once), K from shared memory by
//                  ldmatrix (B fragments: a key's dims are contiguous);
//   online softmax on S's accumulator fragments, in base 2: a thread holds two rows
//                  (g and g + 8 of its warp's 16) and reduces them over its quad;
//   O += P V       P from S's fragments into A fragments, as its rounding to T plus
//                  the remainder (two products); V by ldmatrix.trans (B fragments
//                  need a dim's keys, which are strided).
// The running sum l is kept per thread and reduced over the quad once at the end.
// Splits write fp32 partials and (m, l) exactly like the scalar kernel, for
// CombineSplits.
#pragma once

#include <type_traits>

#include "kernels/cuda/float_traits.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/paged_attention_common.cuh"
#include "kernels/cuda/pdl.cuh"

namespace loom::cuda {
namespace mma {

// d += a * b for one m16n8k16 tile. a: rows g and g + 8, k pairs 2t and 2t + 8 of the
// 16 x 16 A tile; b: k pairs 2t and 2t + 8 of column g of the 16 x 8 B tile; d: rows g
// and g + 8, columns 2t and 2t + 1 (g = lane / 4, t = lane % 4).
template <typename T>
__device__ __forceinline__ void Mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// Four 8 x 8 matrices of 16-bit elements from shared memory; lane l gives the address of
// row l % 8 of matrix l / 8. Plain: register m holds row lane / 4, columns 2 (lane % 4)
// and + 1 of matrix m. Trans: rows 2 (lane % 4) and + 1 of column lane / 4.
__device__ __forceinline__ void LdMatrixX4(uint32_t (&r)[4], const void* row) {
  const auto address = static_cast<uint32_t>(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address)
               : "memory");
}

__device__ __forceinline__ void LdMatrixX4Trans(uint32_t (&r)[4], const void* row) {
  const auto address = static_cast<uint32_t>(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address)
               : "memory");
}

// 16 bytes global -> shared, asynchronously; zeros when !valid (src is then not read).
__device__ __forceinline__ void CopyAsync16(void* dst, const void* src, bool valid) {
  const auto address = static_cast<uint32_t>(__cvta_generic_to_shared(dst));
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(address), "l"(src),
               "r"(src_bytes)
               : "memory");
}

__device__ __forceinline__ void CommitCopies() {
  asm volatile("cp.async.commit_group;" ::: "memory");
}

// Waits until at most `kPending` committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void WaitCopies() {
  asm volatile("cp.async.wait_group %0;" ::"n"(kPending) : "memory");
}

// (lo, hi) rounded to T, lo in the low half: one A or B fragment register.
template <typename T>
__device__ __forceinline__ uint32_t Pack(float lo, float hi) {
  uint32_t r;
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    r = *reinterpret_cast<const uint32_t*>(&v);
  } else {
    const __half2 v = __floats2half2_rn(lo, hi);
    r = *reinterpret_cast<const uint32_t*>(&v);
  }
  return r;
}

// (lo, hi) as two fragment registers whose sum carries about twice T's precision:
// `high` holds them rounded to T, `rest` what that rounding dropped, rounded to T.
template <typename T>
__device__ __forceinline__ void SplitPack(float lo, float hi, uint32_t* high, uint32_t* rest) {
  const float lo_high = Round<T>(lo);
  const float hi_high = Round<T>(hi);
  *high = Pack<T>(lo_high, hi_high);
  *rest = Pack<T>(lo - lo_high, hi - hi_high);
}

inline constexpr int kKeys = 32;  // keys per tile

template <typename T, int kHeadDim, int kWarps>
__global__ void __launch_bounds__(kWarps * 32) PagedAttentionMma(PagedAttentionParams p) {
  static_assert(kHeadDim % 32 == 0 && kHeadDim <= 128, "Q and O fragments must fit registers");
  constexpr int kRows = 16 * kWarps;
  constexpr int kSteps = kHeadDim / 16;    // k-steps of Q K^T
  constexpr int kDimTiles = kHeadDim / 8;  // n-tiles of O
  constexpr int kVecs = kHeadDim / 8;      // 16-byte vectors per key row
  constexpr int kStride = kHeadDim + 8;  // row pitch: the 8 rows of an ldmatrix hit distinct banks
  __shared__ alignas(16) T k_s[2][kKeys][kStride];
  __shared__ alignas(16) T v_s[2][kKeys][kStride];

  // Before the wait (pdl.cuh), the block reads only what no kernel of this step wrote
  // or what kernels before the one just before it wrote: the batch's index arrays
  // (uploaded) and the keys and values of positions before the sequence's first new
  // token (written by earlier steps). The queries and the new tokens' keys and values
  // come from the kernel just before, so they are read after it.
  BlockWork w;
  const bool has_work = PlanBlock(p, kRows, kKeys, &w);

  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int g = lane / 4;
  const int t = lane % 4;
  const T* k_cache = static_cast<const T*>(p.k_cache);
  const T* v_cache = static_cast<const T*>(p.v_cache);
  // Lane j of every warp finds key j of the tile in the block table; the copies of the
  // tile's vectors then take their key's offset from that lane. Copies the tile's keys
  // at positions [lo, hi) only (past k_end: zeros), one commit group.
  static_assert(kKeys == 32 && kKeys * kVecs % (kWarps * 32) == 0, "one key per lane");
  auto load_tile = [&](int tile, int stage, int lo, int hi) {
    int64_t key_offset = -1;  // -1: past the share
    if (const int kpos = tile + lane; kpos < w.k_end) {
      const int64_t block = p.kv_indices[w.kv_begin + kpos / p.block_size];
      const int64_t slot = block * p.block_size + kpos % p.block_size;
      key_offset = (slot * p.kv_heads + w.kv_head) * kHeadDim;
    }
    for (int idx = threadIdx.x; idx < kKeys * kVecs; idx += kWarps * 32) {
      const int key = idx / kVecs;
      const int c = (idx % kVecs) * 8;
      const int64_t offset = __shfl_sync(0xffffffffu, key_offset, key);
      if (tile + key < lo || tile + key >= hi) continue;
      const bool valid = offset >= 0;
      CopyAsync16(&k_s[stage][key][c], k_cache + (valid ? offset + c : 0), valid);
      CopyAsync16(&v_s[stage][key][c], v_cache + (valid ? offset + c : 0), valid);
    }
    CommitCopies();
  };
  const bool any_keys = has_work && w.k_begin < w.k_end;
  if (any_keys) load_tile(w.k_begin, 0, w.k_begin, w.first_pos);

  WaitForPriorGrids();
  AllowDependentLaunch();
  if (!has_work) return;
  if (any_keys) load_tile(w.k_begin, 0, w.first_pos, w.k_begin + kKeys);

  const int total_heads = p.num_heads + 2 * p.kv_heads;
  const T* qkv = static_cast<const T*>(p.qkv);

  // This thread's two rows (h = 0: row g, h = 1: row g + 8 of the warp's 16), and Q's A
  // fragments: qa[s][h + 2 c] holds dims 16 s + 8 c + 2 t and + 1 of row h.
  int row[2];
  int position[2];
  uint32_t qa[kSteps][4];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    row[h] = w.row0 + warp * 16 + g + 8 * h;
    position[h] = w.first_pos + row[h] / w.group;
    const bool valid = row[h] < w.seq_rows;
    const int64_t token = w.q_begin + row[h] / w.group;
    const int head = w.kv_head * w.group + row[h] % w.group;
    const T* q = qkv + (token * total_heads + head) * kHeadDim + 2 * t;
#pragma unroll
    for (int s = 0; s < kSteps; ++s) {
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        qa[s][h + 2 * c] = valid ? *reinterpret_cast<const uint32_t*>(q + 16 * s + 8 * c) : 0u;
      }
    }
  }

  float o[kDimTiles][4];
#pragma unroll
  for (int j = 0; j < kDimTiles; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY};
  float l[2] = {0.0f, 0.0f};

  const float scale_log2 = p.scale * kLog2e;
  int stage = 0;
  for (int tile = w.k_begin; tile < w.k_end; tile += kKeys, stage ^= 1) {
    if (tile + kKeys < w.k_end) {
      // Its stage was released by the last barrier. Waiting for all groups but this one
      // covers both of the first tile's.
      load_tile(tile + kKeys, stage ^ 1, tile + kKeys, tile + 2 * kKeys);
      WaitCopies<1>();
    } else {
      WaitCopies<0>();
    }
    __syncthreads();

    // S = Q K^T: s[n] covers keys tile + 8 n .. + 7.
    float s[kKeys / 8][4];
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) {
      s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
      for (int k = 0; k < kSteps; k += 2) {
        // Matrices: dims 16 k + {0, 8, 16, 24} of keys 8 n .. + 7 = b0, b1 of steps k, k + 1.
        uint32_t b[4];
        LdMatrixX4(b, &k_s[stage][8 * n + lane % 8][16 * k + 8 * (lane / 8)]);
        Mma16816<T>(s[n], qa[k], b[0], b[1]);
        Mma16816<T>(s[n], qa[k + 1], b[2], b[3]);
      }
    }

    // Online softmax. Element e of s[n] is row h = e / 2, key tile + 8 n + 2 t + e % 2.
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int key = tile + 8 * n + 2 * t + e % 2;
        const bool visible = key < w.k_end && key <= position[e / 2];
        s[n][e] = visible ? s[n][e] * scale_log2 : -INFINITY;
        tile_max[e / 2] = fmaxf(tile_max[e / 2], s[n][e]);
      }
    }
    float base[2];
    float correction[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      tile_max[h] = fmaxf(tile_max[h], __shfl_xor_sync(0xffffffffu, tile_max[h], 1));
      tile_max[h] = fmaxf(tile_max[h], __shfl_xor_sync(0xffffffffu, tile_max[h], 2));
      const float m_new = fmaxf(m[h], tile_max[h]);
      // A row that has seen no visible key yet keeps m = -inf: its probabilities are 0.
      base[h] = m_new == -INFINITY ? 0.0f : m_new;
      correction[h] = exp2f(m[h] - base[h]);
      m[h] = m_new;
      l[h] *= correction[h];
    }
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[n][e] = exp2f(s[n][e] - base[e / 2]);
        l[e / 2] += s[n][e];
      }
    }
#pragma unroll
    for (int j = 0; j < kDimTiles; ++j) {
      o[j][0] *= correction[0];
      o[j][1] *= correction[0];
      o[j][2] *= correction[1];
      o[j][3] *= correction[1];
    }

    // O += P V, 16 keys per k-step: P's A fragment is S's accumulators of keys 16 k ..
    // + 7 (registers 0, 1) and + 8 .. + 15 (registers 2, 3). P goes in as two T
    // fragments, its rounding and the remainder, so that it keeps about 16 bits, as the
    // fp32 probabilities of the scalar kernel and the CPU do (one T rounding of P moves
    // greedy ids of the goldens).
#pragma unroll
    for (int k = 0; k < kKeys / 16; ++k) {
      uint32_t pa[4];
      uint32_t pa_rest[4];
      SplitPack<T>(s[2 * k][0], s[2 * k][1], &pa[0], &pa_rest[0]);
      SplitPack<T>(s[2 * k][2], s[2 * k][3], &pa[1], &pa_rest[1]);
      SplitPack<T>(s[2 * k + 1][0], s[2 * k + 1][1], &pa[2], &pa_rest[2]);
      SplitPack<T>(s[2 * k + 1][2], s[2 * k + 1][3], &pa[3], &pa_rest[3]);
#pragma unroll
      for (int d = 0; d < kHeadDim / 16; ++d) {
        // Matrices: keys 16 k + {0, 8} x dims 16 d + {0, 8}, transposed: b0, b1 of the
        // n-tiles 2 d and 2 d + 1.
        uint32_t b[4];
        LdMatrixX4Trans(
            b, &v_s[stage][16 * k + 8 * ((lane / 8) % 2) + lane % 8][16 * d + 8 * (lane / 16)]);
        Mma16816<T>(o[2 * d], pa, b[0], b[1]);
        Mma16816<T>(o[2 * d], pa_rest, b[0], b[1]);
        Mma16816<T>(o[2 * d + 1], pa, b[2], b[3]);
        Mma16816<T>(o[2 * d + 1], pa_rest, b[2], b[3]);
      }
    }
    __syncthreads();  // every warp is done with this stage before it is refilled
  }

#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
    l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
  }
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    if (row[h] >= w.seq_rows) continue;
    const int64_t token = w.q_begin + row[h] / w.group;
    const int64_t head = w.kv_head * w.group + row[h] % w.group;
    const int64_t out_row = token * p.num_heads + head;
    if (p.num_splits == 1) {
      T* out = static_cast<T*>(p.out) + out_row * kHeadDim + 2 * t;
      const float inv = 1.0f / l[h];
#pragma unroll
      for (int j = 0; j < kDimTiles; ++j) {
        *reinterpret_cast<uint32_t*>(out + 8 * j) =
            Pack<T>(o[j][2 * h] * inv, o[j][2 * h + 1] * inv);
      }
    } else {
      const int64_t partial = out_row * p.num_splits + w.split;
      float* out = p.partial_out + partial * kHeadDim + 2 * t;
#pragma unroll
      for (int j = 0; j < kDimTiles; ++j) {
        *reinterpret_cast<float2*>(out + 8 * j) = make_float2(o[j][2 * h], o[j][2 * h + 1]);
      }
      if (t == 0) {
        p.partial_max_sum[2 * partial] = m[h];
        p.partial_max_sum[2 * partial + 1] = l[h];
      }
    }
  }
}

}  // namespace mma

// One launch with tiles of 16 * kWarps rows.
template <typename T, int kHeadDim, int kWarps>
void LaunchMma(const PagedAttentionParams& p_in, cudaStream_t stream) {
  PagedAttentionParams p = p_in;
  const dim3 grid = PlanGrid(&p, 16 * kWarps, stream);
  if (grid.x == 0) return;
  LaunchPdl(mma::PagedAttentionMma<T, kHeadDim, kWarps>, grid, kWarps * 32, 0, stream, p);
}

}  // namespace loom::cuda
