#include "server/active_calls.h"

namespace loom {

void ActiveCalls::Add(const std::shared_ptr<OutputChannel>& channel) {
  absl::MutexLock lock(&mu_);
  channels_.insert(channel);
}

void ActiveCalls::Remove(const std::shared_ptr<OutputChannel>& channel) {
  absl::MutexLock lock(&mu_);
  channels_.erase(channel);
}

int ActiveCalls::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(channels_.size());
}

bool ActiveCalls::WaitUntilEmpty(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto empty = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return channels_.empty(); };
  mu_.AwaitWithDeadline(absl::Condition(&empty), deadline);
  return channels_.empty();
}

void ActiveCalls::CancelAll() {
  absl::MutexLock lock(&mu_);
  for (const auto& channel : channels_) channel->Cancel();
}

}  // namespace loom
