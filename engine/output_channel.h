// The per-request stream from the engine worker to whoever submitted the request.
//
// One producer (the worker thread) pushes RequestOutputs; one consumer takes them in
// order. Cancel() may come from any thread; the worker sees it at its next step and
// ends the request with FinishReason::kCancelled (DESIGN.md, "Cancellation").
//
// Thread-safety: all methods are safe to call concurrently.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/request.h"

namespace loom {

class OutputChannel {
 public:
  // Worker side. REQUIRES: no earlier push had `finished` set or a non-OK status.
  void Push(RequestOutput output);

  // Consumer side: the next output, waiting for it; nullopt once the final output has
  // been taken.
  std::optional<RequestOutput> Next();
  // The next output if one is ready, else nullopt at once (an async consumer's read).
  std::optional<RequestOutput> TryNext();
  // As Next(), but gives up after `timeout` (returning nullopt with *timed_out set).
  std::optional<RequestOutput> NextWithTimeout(absl::Duration timeout, bool* timed_out);

  // Called (from the worker thread) after each Push; lets an async consumer, such as a
  // gRPC reactor, wake up instead of blocking in Next(). Set it before submitting.
  void SetNotifier(std::function<void()> notifier);

  void Cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  absl::Mutex mu_;
  std::deque<RequestOutput> outputs_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;   // the final output was pushed
  bool drained_ ABSL_GUARDED_BY(mu_) = false;  // ... and taken
  std::function<void()> notifier_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> cancelled_{false};
};

}  // namespace loom
