#include "tools/bench/runner.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "tools/bench/random.h"

namespace loom::bench {
namespace {

// Arrivals get a random stream of their own, apart from the workload's.
constexpr uint64_t kArrivalStream = 0xa0761d6478bd642f;

}  // namespace

std::vector<double> ArrivalTimes(int num_requests, std::optional<double> rate, uint64_t seed) {
  std::vector<double> times(num_requests, 0.0);
  if (!rate) return times;
  BenchRandom rng(seed ^ kArrivalStream);
  double t = 0;
  for (int i = 0; i < num_requests; ++i) {
    t += rng.Exponential(*rate);
    times[i] = t;
  }
  return times;
}

RunResult RunRequests(const RequestSet& set, RequestSender& sender, const RunOptions& options) {
  using Clock = std::chrono::steady_clock;
  const int n = static_cast<int>(set.requests.size());
  const std::vector<double> arrivals = ArrivalTimes(n, options.request_rate, options.seed);
  RunResult result;
  result.records.resize(n);

  absl::Mutex mu;
  int next = 0;  // guarded by mu
  int done = 0;  // guarded by mu
  const Clock::time_point start = Clock::now();
  const auto worker = [&] {
    while (true) {
      int i;
      {
        absl::MutexLock lock(&mu);
        if (next == n) return;
        i = next++;
      }
      std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(arrivals[i])));
      result.records[i] = sender.Send(set.requests[i]);
      absl::MutexLock lock(&mu);
      ++done;
      if (options.on_progress) options.on_progress(done);
    }
  };
  std::vector<std::thread> threads;
  const int num_threads = std::min(options.concurrency, n);
  threads.reserve(num_threads);
  for (int t = 0; t < num_threads; ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  result.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace loom::bench
