#include "engine/output_channel.h"

#include "kernels/check.h"

namespace loom {

void OutputChannel::Push(RequestOutput output) {
  std::function<void()> notify;
  {
    absl::MutexLock lock(&mu_);
    LOOM_CHECK(!closed_) << "push after the final output";
    closed_ = output.finished || !output.status.ok();
    outputs_.push_back(std::move(output));
    notify = notifier_;
  }
  if (notify) notify();
}

std::optional<RequestOutput> OutputChannel::Next() {
  bool timed_out = false;
  return NextWithTimeout(absl::InfiniteDuration(), &timed_out);
}

std::optional<RequestOutput> OutputChannel::NextWithTimeout(absl::Duration timeout,
                                                            bool* timed_out) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !outputs_.empty() || drained_; };
  *timed_out = !mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (*timed_out || outputs_.empty()) return std::nullopt;
  RequestOutput out = std::move(outputs_.front());
  outputs_.pop_front();
  if (outputs_.empty() && closed_) drained_ = true;
  return out;
}

std::optional<RequestOutput> OutputChannel::TryNext() {
  bool timed_out = false;
  return NextWithTimeout(absl::ZeroDuration(), &timed_out);
}

void OutputChannel::SetNotifier(std::function<void()> notifier) {
  absl::MutexLock lock(&mu_);
  notifier_ = std::move(notifier);
}

}  // namespace loom
