// The bounded queue between callers (any thread) and an engine worker.
//
// Bounded both by the number of queued requests and by their total prompt tokens, so a
// burst of huge prompts cannot exhaust memory before admission control sees it. A full
// queue rejects at once with ResourceExhausted; Push never blocks the caller.
//
// Thread-safety: all methods are safe to call concurrently.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/output_channel.h"
#include "engine/request.h"

namespace loom {

// A request on its way to the worker, with the channel its outputs go to.
struct QueuedRequest {
  Request request;
  std::shared_ptr<OutputChannel> channel;
  absl::Time arrival_time;
};

class RequestQueue {
 public:
  RequestQueue(int max_requests, int64_t max_prompt_tokens);

  // ResourceExhausted naming the limit when the queue is full or the request alone is
  // larger than max_prompt_tokens; FailedPrecondition once Close() was called.
  absl::Status Push(QueuedRequest request);

  // Worker side: moves every queued request into `out` (appending), waiting up to
  // `timeout` for one to arrive when the queue is empty. Returns false once the queue is
  // closed (after moving out what it still held).
  bool PopAll(absl::Duration timeout, std::vector<QueuedRequest>* out);

  // Rejects later pushes and wakes the worker.
  void Close();

  int num_requests() const;

 private:
  const int max_requests_;
  const int64_t max_prompt_tokens_;
  mutable absl::Mutex mu_;
  std::deque<QueuedRequest> queue_ ABSL_GUARDED_BY(mu_);
  int64_t queued_tokens_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace loom
