// Applies a BatchPlan to the KV state, and publishes finished blocks to the prefix
// cache after the step ran. The only code that changes which blocks a sequence holds.
//
// Thread-safety: worker-thread only.
#pragma once

#include "engine/batch_plan.h"
#include "engine/block_pool.h"

namespace loom {

class KvCacheManager {
 public:
  explicit KvCacheManager(BlockPool* pool) : pool_(pool) {}

  // Preempted sequences release their blocks and restart from token 0; admitted ones
  // take their cached prefix (a session turn keeps its resident blocks); every chunk gets the new
  // blocks the plan counted. All cached prefixes are taken before any allocation, so an allocation
  // cannot evict a prefix the same plan reuses. REQUIRES: `plan` came from Scheduler::Plan on the
  // current state (it then fits).
  void Commit(const BatchPlan& plan);

  // After a step ran `chunk`: advances num_computed and publishes each block the chunk
  // filled, so later requests with the same prefix can share it.
  void Finish(const ScheduledChunk& chunk);

  // Returns every block of `seq` (it finished or was cancelled).
  void Release(Sequence& seq);

  // Keeps the KV of at most the first `num_tokens` tokens of `seq` and returns the
  // blocks past them, so that different tokens can follow. A published block is never
  // written again, so one that the cut falls inside goes back too, with the tokens in
  // it. The caller trims seq.tokens.
  void Truncate(Sequence& seq, int num_tokens);

  const BlockPool& pool() const { return *pool_; }

 private:
  // Takes the cached prefix blocks the plan found for the admitted `s`.
  void AcquirePrefix(Sequence& s, const ScheduledChunk& c);

  BlockPool* pool_;
};

}  // namespace loom
