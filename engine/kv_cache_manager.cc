#include "engine/kv_cache_manager.h"

#include <algorithm>
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

void KvCacheManager::Truncate(Sequence& seq, int num_tokens) {
  const int block_size = pool_->block_size();
  int keep = std::min(seq.num_computed, num_tokens);
  const size_t full = static_cast<size_t>(keep / block_size);
  if (seq.block_hashes.size() > full) {
    seq.block_hashes.resize(full);
    keep = static_cast<int>(full) * block_size;
  }
  const size_t num_blocks = static_cast<size_t>((keep + block_size - 1) / block_size);
  if (seq.blocks.size() > num_blocks) {
    pool_->Release(std::span<const int32_t>(seq.blocks).subspan(num_blocks));
    seq.blocks.resize(num_blocks);
  }
  seq.num_computed = keep;
}

void KvCacheManager::Commit(const BatchPlan& plan) {
  for (Sequence* s : plan.preempted) Release(*s);
  for (const ScheduledChunk& c : plan.chunks) {
    if (!c.admit) continue;
    Sequence& s = *c.seq;
    if (!s.blocks.empty()) {
      // A session turn resuming on its resident KV.
      LOOM_CHECK(c.prefix_blocks.empty() && c.start == s.num_computed);
    } else {
      LOOM_CHECK(s.num_computed == 0) << "admitting a sequence with computed tokens";
      AcquirePrefix(s, c);
    }
    if (!s.admitted_once) s.num_cached_prompt_tokens = c.start;
    s.admitted_once = true;
  }
  for (const ScheduledChunk& c : plan.chunks) {
    auto fresh = pool_->Allocate(c.num_new_blocks);
    LOOM_CHECK(fresh.ok()) << "the plan does not fit: " << fresh.status();
    c.seq->blocks.insert(c.seq->blocks.end(), fresh->begin(), fresh->end());
  }
}

void KvCacheManager::AcquirePrefix(Sequence& s, const ScheduledChunk& c) {
  std::vector<uint64_t> hashes = Scheduler::LookupHashes(s.tokens, pool_->block_size());
  s.blocks = pool_->AcquireCachedPrefix(hashes, s.tokens);
  LOOM_CHECK(s.blocks == c.prefix_blocks) << "the cached prefix changed since Plan";
  hashes.resize(s.blocks.size());
  s.block_hashes = std::move(hashes);
  s.num_computed = c.start;
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
