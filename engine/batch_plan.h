// One engine step, decided by the Scheduler before anything changes: which sequences
// run which tokens, which are preempted, and which cached prefix blocks they take.
// The KV cache manager applies it (Commit); the executor only reads it.
#pragma once

#include <vector>

#include "engine/sequence.h"

namespace loom {

struct ScheduledChunk {
  Sequence* seq;
  // Run tokens [start, start + num_tokens) of seq->tokens. `start` is seq->num_computed
  // after Commit, which for a newly admitted sequence includes its cached prefix.
  int start = 0;
  int num_tokens = 0;
  bool admit = false;                  // moves from waiting to running in this step
  std::vector<int32_t> prefix_blocks;  // admit only: cached blocks it takes, in order
                                       // (none for a session turn with resident KV)
  int num_new_blocks = 0;              // blocks to allocate for it in Commit
  // The chunk ends at the last token, so this step samples the next one.
  bool samples() const { return start + num_tokens == static_cast<int>(seq->tokens.size()); }
};

struct BatchPlan {
  std::vector<ScheduledChunk> chunks;  // running sequences first, then admissions
  std::vector<Sequence*> preempted;    // give up their blocks; recomputed later
  // Blocks ran short: something was preempted, or a waiting sequence did not fit.
  bool out_of_blocks = false;
  int num_tokens() const {
    int n = 0;
    for (const auto& c : chunks) n += c.num_tokens;
    return n;
  }
};

}  // namespace loom
