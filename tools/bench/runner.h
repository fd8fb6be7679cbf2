// Drives a request set through a RequestSender: at most `concurrency` requests in flight,
// each sent at its arrival time (all at once by default, else a Poisson process), and
// times the whole run.
//
// Arrivals: with a request rate R, request i may start at the sum of i exponential gaps of
// mean 1/R, drawn from BenchRandom(seed); a request whose time has come waits for a free
// slot when `concurrency` are in flight (vLLM's `bench serve` does the same).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "tools/bench/report.h"
#include "tools/bench/request_set.h"

namespace loom::bench {

// Sends one request and waits for its end. Send() is called from `concurrency` threads at
// once, so implementations must be thread-safe. It never throws; a failure goes into the
// record's status.
class RequestSender {
 public:
  virtual ~RequestSender() = default;
  virtual RequestRecord Send(const BenchRequest& request) = 0;
};

struct RunOptions {
  int concurrency = 1;
  std::optional<double> request_rate;  // requests per second; nullopt: all at once
  uint64_t seed = 0;
  // Called after each request ends, with the number ended so far, from the thread that
  // ran it (one call at a time).
  std::function<void(int done)> on_progress;
};

struct RunResult {
  std::vector<RequestRecord> records;  // in request-set order
  double elapsed_s = 0;
};

// The start offsets in seconds of `num_requests` requests at `rate` (all 0 without one).
std::vector<double> ArrivalTimes(int num_requests, std::optional<double> rate, uint64_t seed);

// REQUIRES: options.concurrency >= 1; options.request_rate > 0 when set.
RunResult RunRequests(const RequestSet& set, RequestSender& sender, const RunOptions& options);

}  // namespace loom::bench
