#include "engine/block_pool.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernels/check.h"

namespace loom {

BlockPool::BlockPool(int num_blocks, int block_size, bool enable_prefix_caching)
    : block_size_(block_size), enable_prefix_caching_(enable_prefix_caching), blocks_(num_blocks) {
  LOOM_CHECK(num_blocks >= 0 && block_size > 0) << num_blocks << " blocks of " << block_size;
  free_.reserve(num_blocks);
  for (int32_t b = num_blocks - 1; b >= 0; --b) free_.push_back(b);
  if (enable_prefix_caching_) {
    contents_.resize(static_cast<size_t>(num_blocks) * block_size);
  }
}

absl::StatusOr<std::vector<int32_t>> BlockPool::Allocate(int count) {
  LOOM_CHECK(count >= 0) << count;
  if (count > num_blocks_available()) {
    return absl::ResourceExhaustedError(absl::StrCat("KV cache: ", count, " blocks needed, ",
                                                     num_blocks_available(), " of ", num_blocks(),
                                                     " available"));
  }
  std::vector<int32_t> out;
  out.reserve(count);
  while (static_cast<int>(out.size()) < count) {
    int32_t b;
    if (!free_.empty()) {
      b = free_.back();
      free_.pop_back();
    } else {
      b = lru_head_;  // evict the least recently used cached prefix
      LruRemove(b);
      Unpublish(b);
    }
    blocks_[b].state = State::kActive;
    blocks_[b].ref_count = 1;
    out.push_back(b);
  }
  return out;
}

void BlockPool::Release(std::span<const int32_t> blocks) {
  for (int32_t b : blocks) {
    LOOM_CHECK(b >= 0 && b < num_blocks() && blocks_[b].state == State::kActive)
        << "releasing block " << b << ", which is not Active";
    Block& block = blocks_[b];
    if (--block.ref_count > 0) continue;
    if (block.published) {
      LruPushBack(b);
    } else {
      block.state = State::kFree;
      free_.push_back(b);
    }
  }
}

std::vector<int32_t> BlockPool::PeekCachedPrefix(std::span<const uint64_t> block_hashes,
                                                 std::span<const int32_t> tokens) const {
  std::vector<int32_t> out;
  if (!enable_prefix_caching_) return out;
  LOOM_CHECK(tokens.size() >= block_hashes.size() * block_size_);
  for (size_t i = 0; i < block_hashes.size(); ++i) {
    auto it = by_hash_.find(block_hashes[i]);
    if (it == by_hash_.end()) break;
    const int32_t b = it->second;
    const auto want = tokens.subspan(i * block_size_, block_size_);
    if (!std::equal(want.begin(), want.end(), TokensOf(b).begin())) break;  // a collision
    out.push_back(b);
  }
  return out;
}

std::vector<int32_t> BlockPool::AcquireCachedPrefix(std::span<const uint64_t> block_hashes,
                                                    std::span<const int32_t> tokens) {
  std::vector<int32_t> out = PeekCachedPrefix(block_hashes, tokens);
  for (int32_t b : out) {
    Block& block = blocks_[b];
    if (block.state == State::kCached) LruRemove(b);
    block.state = State::kActive;
    ++block.ref_count;
  }
  return out;
}

int BlockPool::CountReleasable(std::span<const int32_t> blocks) const {
  int n = 0;
  for (int32_t b : blocks) n += blocks_[b].ref_count == 1;
  return n;
}

void BlockPool::Publish(int32_t block, uint64_t hash, std::span<const int32_t> tokens) {
  LOOM_CHECK(block >= 0 && block < num_blocks() && blocks_[block].state == State::kActive)
      << "publishing block " << block << ", which is not Active";
  LOOM_CHECK(static_cast<int>(tokens.size()) == block_size_) << tokens.size();
  if (!enable_prefix_caching_ || blocks_[block].published || by_hash_.contains(hash)) return;
  blocks_[block].published = true;
  blocks_[block].hash = hash;
  by_hash_[hash] = block;
  std::copy(tokens.begin(), tokens.end(),
            contents_.begin() + static_cast<size_t>(block) * block_size_);
}

void BlockPool::Unpublish(int32_t b) {
  Block& block = blocks_[b];
  LOOM_CHECK(block.published) << "block " << b;
  by_hash_.erase(block.hash);
  block.published = false;
  block.hash = 0;
}

std::span<const int32_t> BlockPool::TokensOf(int32_t block) const {
  return std::span<const int32_t>(contents_).subspan(static_cast<size_t>(block) * block_size_,
                                                     block_size_);
}

void BlockPool::LruPushBack(int32_t b) {
  Block& block = blocks_[b];
  block.state = State::kCached;
  block.lru_prev = lru_tail_;
  block.lru_next = kNone;
  if (lru_tail_ != kNone) {
    blocks_[lru_tail_].lru_next = b;
  } else {
    lru_head_ = b;
  }
  lru_tail_ = b;
  ++num_cached_;
}

void BlockPool::LruRemove(int32_t b) {
  Block& block = blocks_[b];
  LOOM_CHECK(block.state == State::kCached) << "block " << b;
  if (block.lru_prev != kNone) {
    blocks_[block.lru_prev].lru_next = block.lru_next;
  } else {
    lru_head_ = block.lru_next;
  }
  if (block.lru_next != kNone) {
    blocks_[block.lru_next].lru_prev = block.lru_prev;
  } else {
    lru_tail_ = block.lru_prev;
  }
  block.lru_prev = block.lru_next = kNone;
  --num_cached_;
}

}  // namespace loom
