// What both paged-attention kernels share: which rows and keys a block serves, and the
// host side of a launch (the grid, and the list of the tiles that exist).
//
// A query row is a (token, query head) pair; a sequence's rows are numbered token-major
// over the `group` query heads that read one KV head. A block takes one tile of
// rows_per_block rows of one sequence, one KV head, and one share ("split") of the keys:
// grid (sequences, tiles, kv_heads * splits), or, with a tile list, (listed tiles, 1,
// kv_heads * splits).
#pragma once

#include <algorithm>
#include <vector>

#include "kernels/cuda/launch.h"

namespace loom::cuda {

inline constexpr float kLog2e = 1.4426950408889634f;

struct BlockWork {
  int seq;
  int kv_head;
  int split;
  int group;      // query heads per KV head
  int q_begin;    // the sequence's first token in the batch
  int seq_rows;   // q_len * group
  int row0;       // the tile's first row
  int kv_begin;   // the sequence's first entry in kv_indices
  int first_pos;  // position of the sequence's first new token
  int k_begin;    // this block's keys: [k_begin, k_end), causally cut for its rows
  int k_end;
};

// The block's share of the work; false when it has no rows (a tile past the sequence's
// rows, or a sequence another launch serves). Uniform across the block.
__device__ __forceinline__ bool PlanBlock(const PagedAttentionParams& p, int rows_per_block,
                                          int key_tile, BlockWork* w) {
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
  w->seq = seq;
  w->kv_head = blockIdx.z / p.num_splits;
  w->split = blockIdx.z % p.num_splits;
  w->group = p.num_heads / p.kv_heads;
  // All five loads are issued before any is used: one round trip to memory, not two.
  w->q_begin = p.q_indptr[seq];
  const int q_end = p.q_indptr[seq + 1];
  w->kv_begin = p.kv_indptr[seq];
  const int kv_end = p.kv_indptr[seq + 1];
  const int last_block_len = p.kv_last_block_len[seq];
  const int q_len = q_end - w->q_begin;
  w->seq_rows = q_len * w->group;
  w->row0 = tile_index * rows_per_block;
  if (w->row0 >= w->seq_rows || w->seq_rows <= p.rows_above || w->seq_rows > p.rows_at_most) {
    return false;
  }
  const int kv_len = (kv_end - w->kv_begin - 1) * p.block_size + last_block_len;
  w->first_pos = kv_len - q_len;
  const int last_row = min(w->row0 + rows_per_block, w->seq_rows) - 1;
  const int tile_end = w->first_pos + last_row / w->group + 1;  // no row sees a key past it
  const int split_len =
      ((kv_len + p.num_splits - 1) / p.num_splits + key_tile - 1) / key_tile * key_tile;
  w->k_begin = w->split * split_len;
  w->k_end = min(w->k_begin + split_len, tile_end);
  return true;
}

// The grid for tiles of rows_per_block rows. With the host's q_indptr and several tiles
// per sequence, lists the tiles that exist in p->tile_scratch (copied only when it holds
// another list) and points p->tile_indptr at it. A grid with x == 0 has nothing to run.
inline dim3 PlanGrid(PagedAttentionParams* p, int rows_per_block, cudaStream_t stream) {
  const int group = p->num_heads / p->kv_heads;
  const int splits_z = p->kv_heads * p->num_splits;
  const int tiles_y = (p->max_q_len * group + rows_per_block - 1) / rows_per_block;
  if (p->host_q_indptr == nullptr || p->num_seqs + 1 > p->tile_scratch_capacity || tiles_y <= 1) {
    return dim3(p->num_seqs, tiles_y, splits_z);
  }
  std::vector<int32_t> tiles(p->num_seqs + 1, 0);
  for (int s = 0; s < p->num_seqs; ++s) {
    const int rows = (p->host_q_indptr[s + 1] - p->host_q_indptr[s]) * group;
    const bool served = rows > p->rows_above && rows <= p->rows_at_most;
    tiles[s + 1] = tiles[s] + (served ? (rows + rows_per_block - 1) / rows_per_block : 0);
  }
  if (tiles.back() == 0) return dim3(0, 1, 1);
  if (p->tile_scratch_contents == nullptr || *p->tile_scratch_contents != tiles) {
    // From pageable memory: staged before cudaMemcpyAsync returns, so `tiles` may go.
    cudaMemcpyAsync(p->tile_scratch, tiles.data(), tiles.size() * sizeof(int32_t),
                    cudaMemcpyHostToDevice, stream);
    if (p->tile_scratch_contents != nullptr) *p->tile_scratch_contents = tiles;
  }
  p->tile_indptr = p->tile_scratch;
  return dim3(tiles.back(), 1, splits_z);
}

}  // namespace loom::cuda
