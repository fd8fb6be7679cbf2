// Decides each engine step: continuous batching with chunked prefill over the paged KV
// pool (DESIGN.md, "plan, then apply").
//
// Every step, running sequences go first, oldest first: a decoding sequence runs its one
// new token; one still prefilling runs its next chunk. When the pool cannot hold a
// sequence's next block, the policy's victim is preempted (recompute: it gives up its
// blocks and returns to the waiting list with all its tokens). Then, if nothing was
// preempted, waiting sequences are admitted in policy order while the batch has room
// (max_batch_size), the step has prefill budget (max_prefill_tokens) and the pool has
// blocks, taking any cached prefix of their prompt (a session turn whose KV is still
// resident resumes on it instead). Admission stops at the first sequence that does not
// fit, so a large request is not starved by small ones. The plan says when blocks ran
// short, so the engine can evict idle sessions' KV and plan again.
//
// Plan() reads state and returns a BatchPlan; it changes nothing. Commit() (kv_cache_
// manager.h) applies it.
//
// Thread-safety: worker-thread only.
#pragma once

#include <memory>
#include <vector>

#include "engine/batch_plan.h"
#include "engine/block_pool.h"
#include "engine/scheduling_policy.h"

namespace loom {

struct SchedulerConfig {
  int max_batch_size = 64;        // sequences running at once
  int max_prefill_tokens = 2048;  // prompt tokens per step, over all prefill chunks
  int block_size = 64;
};

class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, std::unique_ptr<SchedulingPolicy> policy);

  // `running` and `waiting` are the worker's lists; neither is modified.
  BatchPlan Plan(const std::vector<Sequence*>& running, std::vector<Sequence*> waiting,
                 const BlockPool& pool) const;

  // The hashes of the full blocks of `tokens` that a prefix-cache lookup may use: all
  // but the last token, which must run to give logits.
  static std::vector<uint64_t> LookupHashes(const std::vector<int32_t>& tokens, int block_size);

  const SchedulerConfig& config() const { return config_; }

 private:
  int BlocksFor(int num_tokens) const {
    return (num_tokens + config_.block_size - 1) / config_.block_size;
  }

  SchedulerConfig config_;
  std::unique_ptr<SchedulingPolicy> policy_;
};

}  // namespace loom
