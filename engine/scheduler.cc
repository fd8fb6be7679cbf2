#include "engine/scheduler.h"

#include <algorithm>
#include <span>

#include "engine/block_hash.h"
#include "kernels/check.h"

namespace loom {

void FcfsPolicy::OrderWaiting(std::vector<Sequence*>& waiting) const {
  std::sort(waiting.begin(), waiting.end(),
            [](const Sequence* a, const Sequence* b) { return a->arrival < b->arrival; });
}

Sequence* FcfsPolicy::PickVictim(const std::vector<Sequence*>& candidates) const {
  return *std::max_element(
      candidates.begin(), candidates.end(),
      [](const Sequence* a, const Sequence* b) { return a->arrival < b->arrival; });
}

Scheduler::Scheduler(const SchedulerConfig& config, std::unique_ptr<SchedulingPolicy> policy)
    : config_(config), policy_(std::move(policy)) {
  LOOM_CHECK(config.max_batch_size > 0 && config.max_prefill_tokens > 0 && config.block_size > 0);
}

std::vector<uint64_t> Scheduler::LookupHashes(const std::vector<int32_t>& tokens, int block_size) {
  if (tokens.empty()) return {};
  return HashFullBlocks(std::span<const int32_t>(tokens).first(tokens.size() - 1), block_size);
}

BatchPlan Scheduler::Plan(const std::vector<Sequence*>& running, std::vector<Sequence*> waiting,
                          const BlockPool& pool) const {
  BatchPlan plan;
  int available = pool.num_blocks_available();
  int budget = config_.max_prefill_tokens;

  // Running sequences, oldest first. `alive` holds those not (yet) preempted.
  std::vector<Sequence*> alive = running;
  std::sort(alive.begin(), alive.end(),
            [](const Sequence* a, const Sequence* b) { return a->arrival < b->arrival; });
  std::vector<Sequence*> unscheduled = alive;  // preemption candidates
  for (Sequence* s : alive) {
    auto self = std::find(unscheduled.begin(), unscheduled.end(), s);
    if (self == unscheduled.end()) continue;  // preempted by an older sequence
    unscheduled.erase(self);
    LOOM_CHECK(s->num_uncomputed() >= 1) << "running sequence with nothing to run";
    // A prefill chunk (or a recompute) spends the step's budget; a decode does not.
    const bool prefill = s->num_uncomputed() > 1;
    const int n = prefill ? std::min(s->num_uncomputed(), budget) : 1;
    if (n == 0) continue;
    const int need = BlocksFor(s->num_computed + n) - static_cast<int>(s->blocks.size());
    bool preempted_self = false;
    while (need > available) {
      if (unscheduled.empty()) {
        // Nobody younger left to yield: this sequence itself steps back.
        plan.preempted.push_back(s);
        preempted_self = true;
        break;
      }
      Sequence* victim = policy_->PickVictim(unscheduled);
      unscheduled.erase(std::find(unscheduled.begin(), unscheduled.end(), victim));
      available += pool.CountReleasable(victim->blocks);
      plan.preempted.push_back(victim);
    }
    if (preempted_self) continue;
    available -= std::max(need, 0);
    if (prefill) budget -= n;
    plan.chunks.push_back(ScheduledChunk{
        .seq = s, .start = s->num_computed, .num_tokens = n, .num_new_blocks = std::max(need, 0)});
  }

  // Admissions, only in a step without memory pressure.
  if (!plan.preempted.empty()) {
    plan.out_of_blocks = true;
    return plan;
  }
  int batch = static_cast<int>(running.size());
  policy_->OrderWaiting(waiting);
  for (Sequence* s : waiting) {
    if (batch >= config_.max_batch_size || budget <= 0) break;
    // A session turn whose KV is resident resumes after it; anything else looks its
    // prompt up in the prefix cache.
    std::vector<int32_t> prefix;
    int taken_from_cache = 0;  // cached blocks leave the available set when taken
    int start = s->num_computed;
    if (s->blocks.empty()) {
      const std::vector<uint64_t> hashes = LookupHashes(s->tokens, config_.block_size);
      prefix = pool.PeekCachedPrefix(hashes, s->tokens);
      for (int32_t b : prefix) taken_from_cache += pool.state(b) == BlockPool::State::kCached;
      start = static_cast<int>(prefix.size()) * config_.block_size;
    }
    const int n = std::min(static_cast<int>(s->tokens.size()) - start, budget);
    const int held = static_cast<int>(prefix.size() + s->blocks.size());
    const int need = std::max(BlocksFor(start + n) - held, 0);
    if (need + taken_from_cache > available) {
      plan.out_of_blocks = true;
      break;
    }
    available -= need + taken_from_cache;
    budget -= n;
    ++batch;
    plan.chunks.push_back(ScheduledChunk{.seq = s,
                                         .start = start,
                                         .num_tokens = n,
                                         .admit = true,
                                         .prefix_blocks = std::move(prefix),
                                         .num_new_blocks = need});
  }
  return plan;
}

}  // namespace loom
