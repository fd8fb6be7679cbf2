#include "engine/request_queue.h"

#include "absl/strings/str_cat.h"

namespace loom {

RequestQueue::RequestQueue(int max_requests, int64_t max_prompt_tokens)
    : max_requests_(max_requests), max_prompt_tokens_(max_prompt_tokens) {}

absl::Status RequestQueue::Push(QueuedRequest request) {
  const int64_t tokens = static_cast<int64_t>(request.request.prompt_ids.size());
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::FailedPreconditionError("the engine is shutting down");
  if (waiting_requests_ >= max_requests_) {
    return absl::ResourceExhaustedError(absl::StrCat("request queue is full: ", waiting_requests_,
                                                     " requests waiting (max_queued_requests ",
                                                     max_requests_, ")"));
  }
  if (waiting_tokens_ + tokens > max_prompt_tokens_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "request queue is full: ", waiting_tokens_, " prompt tokens waiting and this request has ",
        tokens, " (max_queued_tokens ", max_prompt_tokens_, ")"));
  }
  ++waiting_requests_;
  waiting_tokens_ += tokens;
  request.num_tokens = tokens;
  queue_.push_back(std::move(request));
  return absl::OkStatus();
}

bool RequestQueue::PopAll(absl::Duration timeout, std::vector<QueuedRequest>* out) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || closed_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  while (!queue_.empty()) {
    out->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return !closed_;
}

void RequestQueue::Started(int64_t num_tokens) {
  absl::MutexLock lock(&mu_);
  --waiting_requests_;
  waiting_tokens_ -= num_tokens;
}

void RequestQueue::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

int RequestQueue::num_requests() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(queue_.size());
}

}  // namespace loom
