// The bounded queue between callers (any thread) and an engine worker.
//
// Bounded both by the number of waiting requests and by their total prompt tokens, so a
// burst of huge prompts cannot exhaust memory before admission control sees it. A
// request counts as waiting from Push() until the worker calls Started() for it: it may
// have left the queue for the worker's own waiting list and still count. A full queue
// rejects at once with ResourceExhausted; Push never blocks the caller.
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
  int64_t num_tokens = 0;  // what it counts against max_prompt_tokens (set by Push)
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

  // Worker side: a popped request of `num_tokens` (QueuedRequest::num_tokens) started
  // running or ended, so it no longer counts as waiting.
  void Started(int64_t num_tokens);

  // Rejects later pushes and wakes the worker.
  void Close();

  int num_requests() const;  // still in the queue (not yet popped)

 private:
  const int max_requests_;
  const int64_t max_prompt_tokens_;
  mutable absl::Mutex mu_;
  std::deque<QueuedRequest> queue_ ABSL_GUARDED_BY(mu_);
  int waiting_requests_ ABSL_GUARDED_BY(mu_) = 0;  // pushed and not yet Started()
  int64_t waiting_tokens_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace loom
