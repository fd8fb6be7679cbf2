// The host-side description of one forward step: which tokens of which sequences run,
// where their keys and values go in the paged pool, and which rows need logits.
//
// The scheduler (later: a BatchPlan) fills it with AddSequence; the model runner only
// reads it. Everything is flattened into the CSR arrays the backends consume
// (AttentionBatch in kernels/backend.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/check.h"

namespace loom {

struct ForwardBatch {
  std::vector<int32_t> token_ids;          // [T] the new tokens of every sequence, in order
  std::vector<int32_t> positions;          // [T]
  std::vector<int32_t> slots;              // [T] block * block_size + offset in the pool
  std::vector<int32_t> q_indptr{0};        // [num_seqs + 1]
  std::vector<int32_t> kv_indptr{0};       // [num_seqs + 1]
  std::vector<int32_t> kv_indices;         // block ids of each sequence, in order
  std::vector<int32_t> kv_last_block_len;  // [num_seqs]
  std::vector<int32_t> logit_rows;         // rows of T whose logits are returned, in order

  int num_seqs() const { return static_cast<int>(kv_last_block_len.size()); }
  int num_tokens() const { return static_cast<int>(token_ids.size()); }

  // Appends a sequence whose first `start_position` tokens are already in the pool and
  // whose `tokens` run now, at positions start_position, start_position + 1, ...
  // `block_table` lists the sequence's blocks from its first token; it must cover all
  // start_position + tokens.size() positions. With `want_logits`, the logits of the
  // last new token are returned (its row is appended to logit_rows).
  // REQUIRES: !tokens.empty().
  void AddSequence(std::span<const int32_t> tokens, int start_position,
                   std::span<const int32_t> block_table, int block_size, bool want_logits) {
    LOOM_CHECK(!tokens.empty());
    const int kv_len = start_position + static_cast<int>(tokens.size());
    const int blocks_used = (kv_len + block_size - 1) / block_size;
    LOOM_CHECK(static_cast<int>(block_table.size()) >= blocks_used)
        << "block table of " << block_table.size() << " blocks for " << kv_len << " tokens";
    for (size_t i = 0; i < tokens.size(); ++i) {
      const int position = start_position + static_cast<int>(i);
      token_ids.push_back(tokens[i]);
      positions.push_back(position);
      slots.push_back(block_table[position / block_size] * block_size + position % block_size);
    }
    q_indptr.push_back(static_cast<int32_t>(token_ids.size()));
    kv_indices.insert(kv_indices.end(), block_table.begin(), block_table.begin() + blocks_used);
    kv_indptr.push_back(static_cast<int32_t>(kv_indices.size()));
    kv_last_block_len.push_back(kv_len - (blocks_used - 1) * block_size);
    if (want_logits) logit_rows.push_back(static_cast<int32_t>(token_ids.size()) - 1);
  }
};

}  // namespace loom
