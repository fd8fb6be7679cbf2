// The streams a server has in flight, so that draining can wait for them and, past its
// deadline, cancel the rest.
//
// Thread-safety: all methods are safe to call concurrently.
#pragma once

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/output_channel.h"

namespace loom {

class ActiveCalls {
 public:
  void Add(const std::shared_ptr<OutputChannel>& channel);
  void Remove(const std::shared_ptr<OutputChannel>& channel);
  int size() const;

  // Waits until no call is in flight or `deadline` passes; true when none is left.
  bool WaitUntilEmpty(absl::Time deadline) const;
  // Cancels the engine request behind every call still in flight.
  void CancelAll();

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::shared_ptr<OutputChannel>> channels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace loom
