#include "engine/block_pool.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernels/check.h"

namespace loom {

BlockPool::BlockPool(int num_blocks) : active_(num_blocks, false) {
  LOOM_CHECK(num_blocks >= 0) << num_blocks;
  free_.reserve(num_blocks);
  for (int b = num_blocks - 1; b >= 0; --b) free_.push_back(b);
}

absl::StatusOr<std::vector<int32_t>> BlockPool::Allocate(int count) {
  LOOM_CHECK(count >= 0) << count;
  if (count > num_blocks_free()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "KV cache: ", count, " blocks needed, ", num_blocks_free(), " of ", num_blocks(), " free"));
  }
  std::vector<int32_t> blocks(count);
  for (int i = 0; i < count; ++i) {
    blocks[i] = free_.back();
    free_.pop_back();
    active_[blocks[i]] = true;
  }
  return blocks;
}

void BlockPool::Free(const std::vector<int32_t>& blocks) {
  for (int32_t b : blocks) {
    LOOM_CHECK(b >= 0 && b < num_blocks() && active_[b]) << "freeing block " << b;
    active_[b] = false;
    free_.push_back(b);
  }
}

}  // namespace loom
