// The free list of KV-cache blocks.
//
// Blocks are identified by their index into the runner's KV pool. A block is Free or
// Active (owned by exactly one sequence here). Prefix caching adds a Cached state and
// reference counts on top of this pool.
//
// Thread-safety: worker-thread only.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace loom {

class BlockPool {
 public:
  explicit BlockPool(int num_blocks);

  int num_blocks() const { return static_cast<int>(active_.size()); }
  int num_blocks_free() const { return static_cast<int>(free_.size()); }
  int num_blocks_active() const { return num_blocks() - num_blocks_free(); }

  // Takes `count` free blocks, lowest ids first. ResourceExhausted, taking none, when
  // fewer than `count` are free.
  absl::StatusOr<std::vector<int32_t>> Allocate(int count);

  // Returns blocks to the free list. REQUIRES: each block is Active.
  void Free(const std::vector<int32_t>& blocks);

 private:
  std::vector<int32_t> free_;  // a stack; the back is handed out next
  std::vector<bool> active_;
};

}  // namespace loom
