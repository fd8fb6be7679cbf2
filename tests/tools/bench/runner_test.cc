#include "tools/bench/runner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace loom::bench {
namespace {

// Records each request's output_len as it is sent and how many run at once. The first
// requests wait until min(concurrency, total) are in flight together, so the test sees
// the bound reached, not just respected; after that they run freely.
class FakeSender : public RequestSender {
 public:
  FakeSender(int concurrency, int total) : full_(std::min(concurrency, total)) {}

  RequestRecord Send(const BenchRequest& request) override {
    absl::MutexLock lock(&mu_);
    ++in_flight_;
    max_in_flight_ = std::max(max_in_flight_, in_flight_);
    sent_.push_back(request.output_len);
    if (in_flight_ == full_) filled_ = true;
    mu_.Await(absl::Condition(&filled_));
    --in_flight_;
    return {.prompt_tokens = static_cast<int>(request.prompt_ids.size()),
            .completion_tokens = request.output_len,
            .ttft_s = 0.001};
  }

  int max_in_flight() {
    absl::MutexLock lock(&mu_);
    return max_in_flight_;
  }
  std::vector<int> sent() {
    absl::MutexLock lock(&mu_);
    return sent_;
  }

 private:
  const int full_;
  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool filled_ ABSL_GUARDED_BY(mu_) = false;
  int max_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int> sent_ ABSL_GUARDED_BY(mu_);
};

RequestSet Numbered(int n) {
  RequestSet set{.workload = "test"};
  for (int i = 1; i <= n; ++i) set.requests.push_back({.prompt_ids = {i}, .output_len = i});
  return set;
}

TEST(RunnerTest, KeepsConcurrencyRequestsInFlightAndRecordsInOrder) {
  const RequestSet set = Numbered(10);
  FakeSender sender(3, 10);
  std::vector<int> progress;
  const RunResult result = RunRequests(
      set, sender, {.concurrency = 3, .on_progress = [&](int done) { progress.push_back(done); }});
  EXPECT_EQ(sender.max_in_flight(), 3);
  std::vector<int> sent = sender.sent();
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(sent, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  ASSERT_EQ(result.records.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(result.records[i].completion_tokens, i + 1);
  EXPECT_EQ(progress, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_GT(result.elapsed_s, 0);
}

TEST(RunnerTest, ConcurrencyAboveTheSetSizeRunsThemAll) {
  FakeSender sender(64, 5);
  const RunResult result = RunRequests(Numbered(5), sender, {.concurrency = 64});
  EXPECT_EQ(sender.max_in_flight(), 5);
  EXPECT_EQ(result.records.size(), 5u);
}

TEST(RunnerTest, ArrivalsArePoissonAndSeeded) {
  EXPECT_EQ(ArrivalTimes(3, std::nullopt, 0), (std::vector<double>{0, 0, 0}));
  const std::vector<double> a = ArrivalTimes(20000, 4.0, 1);
  EXPECT_EQ(a, ArrivalTimes(20000, 4.0, 1));
  EXPECT_NE(a, ArrivalTimes(20000, 4.0, 2));
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_GT(a[0], 0);
  EXPECT_NEAR(a.back() / a.size(), 0.25, 0.01);  // mean gap 1 / rate
}

TEST(RunnerTest, ARequestRateSpacesTheStarts) {
  // 200 requests/s: 8 requests arrive over about 40 ms; none starts before its time.
  FakeSender sender(1, 8);
  const RunResult result =
      RunRequests(Numbered(8), sender, {.concurrency = 8, .request_rate = 200.0, .seed = 4});
  EXPECT_GE(result.elapsed_s, ArrivalTimes(8, 200.0, 4).back());
  EXPECT_EQ(result.records.size(), 8u);
}

}  // namespace
}  // namespace loom::bench
