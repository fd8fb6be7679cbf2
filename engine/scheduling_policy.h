// Who is admitted first and who yields blocks first: the scheduler's policy, behind a
// small interface so others (priority, fairness) can be added without touching it.
#pragma once

#include <memory>
#include <vector>

#include "engine/sequence.h"

namespace loom {

class SchedulingPolicy {
 public:
  virtual ~SchedulingPolicy() = default;
  // Sorts waiting sequences into admission order.
  virtual void OrderWaiting(std::vector<Sequence*>& waiting) const = 0;
  // The sequence to preempt among `candidates` (never empty).
  virtual Sequence* PickVictim(const std::vector<Sequence*>& candidates) const = 0;
};

// First come, first served: admit by arrival; preempt the youngest (latest arrival),
// whose recompute costs least and which has waited least.
class FcfsPolicy final : public SchedulingPolicy {
 public:
  void OrderWaiting(std::vector<Sequence*>& waiting) const override;
  Sequence* PickVictim(const std::vector<Sequence*>& candidates) const override;
};

}  // namespace loom
