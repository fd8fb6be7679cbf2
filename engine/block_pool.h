// The KV-cache blocks of one model replica: who holds each block, and which finished
// blocks can be shared as a cached prefix.
//
// Each block is in one of three states (DESIGN.md, "KV cache"):
//   Free    holds nothing anyone wants; handed out first.
//   Active  held by one or more sequences (ref_count > 0).
//   Cached  held by no sequence, but its keys and values are those of a known token
//           prefix (it was published), so a later request with that prefix can take it
//           back instead of recomputing. Cached blocks are evicted in LRU order when
//           Allocate runs out of Free ones.
// A published block is found by its chained content hash (block_hash.h). Lookups also
// compare the block's tokens, so a hash collision can never share wrong keys.
//
// Invariants: num_blocks() == num_blocks_free() + num_blocks_active() +
// num_blocks_cached(); a block's ref_count is > 0 exactly when it is Active; the hash
// index holds exactly the published blocks that are Active or Cached.
//
// Thread-safety: worker-thread only.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace loom {

class BlockPool {
 public:
  enum class State : uint8_t { kFree, kActive, kCached };

  // With `enable_prefix_caching` false, Publish is a no-op and released blocks are
  // always Free.
  BlockPool(int num_blocks, int block_size, bool enable_prefix_caching);

  int num_blocks() const { return static_cast<int>(blocks_.size()); }
  int block_size() const { return block_size_; }
  int num_blocks_free() const { return static_cast<int>(free_.size()); }
  int num_blocks_cached() const { return num_cached_; }
  int num_blocks_active() const { return num_blocks() - num_blocks_free() - num_blocks_cached(); }
  // Free plus Cached: what Allocate can hand out.
  int num_blocks_available() const { return num_blocks_free() + num_blocks_cached(); }

  // Takes `count` blocks for a sequence (ref_count 1 each): Free ones first, then the
  // least recently used Cached ones, which are forgotten. ResourceExhausted, taking
  // none, when fewer than `count` are available.
  absl::StatusOr<std::vector<int32_t>> Allocate(int count);

  // Drops one reference from each block. A block nobody holds becomes Cached if it was
  // published (and caching is on), else Free. REQUIRES: each block is Active.
  void Release(std::span<const int32_t> blocks);

  // The blocks that hold the longest cached prefix of a sequence, one reference taken on
  // each. `block_hashes` are the chained hashes of the sequence's full blocks and
  // `tokens` its tokens (at least block_hashes.size() * block_size of them).
  std::vector<int32_t> AcquireCachedPrefix(std::span<const uint64_t> block_hashes,
                                           std::span<const int32_t> tokens);

  // What AcquireCachedPrefix would return now, without taking anything.
  std::vector<int32_t> PeekCachedPrefix(std::span<const uint64_t> block_hashes,
                                        std::span<const int32_t> tokens) const;

  // How many of `blocks` would become available (Free or Cached) if released once: those
  // held by a single reference.
  int CountReleasable(std::span<const int32_t> blocks) const;

  // Records that Active `block` now holds the full block of `tokens` (block_size of them)
  // whose chained hash is `hash`, so later sequences can share it. If another block is
  // already published under that hash, nothing changes. REQUIRES: `block` is Active.
  void Publish(int32_t block, uint64_t hash, std::span<const int32_t> tokens);

  State state(int32_t block) const { return blocks_[block].state; }
  int ref_count(int32_t block) const { return blocks_[block].ref_count; }

 private:
  static constexpr int32_t kNone = -1;

  struct Block {
    State state = State::kFree;
    int ref_count = 0;
    bool published = false;
    uint64_t hash = 0;
    int32_t lru_prev = kNone;  // Cached blocks only: the LRU list, oldest at head_
    int32_t lru_next = kNone;
  };

  void LruPushBack(int32_t block);
  void LruRemove(int32_t block);
  // Removes a published block from the hash index and forgets its tokens.
  void Unpublish(int32_t block);
  std::span<const int32_t> TokensOf(int32_t block) const;

  const int block_size_;
  const bool enable_prefix_caching_;
  std::vector<Block> blocks_;
  std::vector<int32_t> free_;      // a stack of Free blocks
  std::vector<int32_t> contents_;  // [num_blocks, block_size] tokens of published blocks
  absl::flat_hash_map<uint64_t, int32_t> by_hash_;
  int32_t lru_head_ = kNone;
  int32_t lru_tail_ = kNone;
  int num_cached_ = 0;
};

}  // namespace loom
