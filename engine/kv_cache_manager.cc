#include "engine/kv_cache_manager.h"

#include <span>

#include "engine/block_hash.h"
#include "engine/scheduler.h"
#include "kernels/check.h"

namespace loom {

void KvCacheManager::Release(Sequence& seq) {
  pool_->Release(seq.blocks);
  seq.blocks.clear();
  seq.block_hashes.clear();
  seq.num_computed = 0;
}

void KvCacheManager::Commit(const BatchPlan& plan) {
  for (Sequence* s : plan.preempted) Release(*s);
  const int block_size = pool_->block_size();
  for (const ScheduledChunk& c : plan.chunks) {
    if (!c.admit) continue;
    Sequence& s = *c.seq;
    LOOM_CHECK(s.blocks.empty() && s.num_computed == 0) << "admitting a sequence with blocks";
    std::vector<uint64_t> hashes = Scheduler::LookupHashes(s.tokens, block_size);
    s.blocks = pool_->AcquireCachedPrefix(hashes, s.tokens);
    LOOM_CHECK(s.blocks == c.prefix_blocks) << "the cached prefix changed since Plan";
    hashes.resize(s.blocks.size());
    s.block_hashes = std::move(hashes);
    s.num_computed = c.start;
    if (!s.admitted_once) s.num_cached_prompt_tokens = c.start;
    s.admitted_once = true;
  }
  for (const ScheduledChunk& c : plan.chunks) {
    auto fresh = pool_->Allocate(c.num_new_blocks);
    LOOM_CHECK(fresh.ok()) << "the plan does not fit: " << fresh.status();
    c.seq->blocks.insert(c.seq->blocks.end(), fresh->begin(), fresh->end());
  }
}

void KvCacheManager::Finish(const ScheduledChunk& chunk) {
  Sequence& s = *chunk.seq;
  s.num_computed = chunk.start + chunk.num_tokens;
  const int block_size = pool_->block_size();
  const std::span<const int32_t> tokens(s.tokens);
  while (static_cast<int>(s.block_hashes.size() + 1) * block_size <= s.num_computed) {
    const size_t i = s.block_hashes.size();
    const uint64_t parent = i == 0 ? kRootBlockHash : s.block_hashes.back();
    const auto block_tokens = tokens.subspan(i * block_size, block_size);
    const uint64_t hash = HashBlock(parent, block_tokens);
    pool_->Publish(s.blocks[i], hash, block_tokens);
    s.block_hashes.push_back(hash);
  }
}

}  // namespace loom
