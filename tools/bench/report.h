// The benchmark's report: what LMDeploy's profile_throughput prints, from the records of
// every request, as a table and as JSON.
//
// Only requests that finished count towards tokens, latencies and rates; failed ones are
// counted apart (and make `loom bench` exit non-zero). Rates divide by the elapsed time:
// from the first request sent to the last one finished.
//
// JSON keys: workload, mode, seed, concurrency, num_prompts, request_rate (null when
// unbounded), completed, failed, errors, elapsed_s, prompt_tokens, completion_tokens,
// output_tok_s, total_tok_s, rps, rpm, ttft_s {min, max, mean, p50, p99} and itl_s {p50,
// p75, p95, p99}, all times in seconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace loom::bench {

// What one request gave.
struct RequestRecord {
  absl::Status status;  // OK when the request finished
  int prompt_tokens = 0;
  int completion_tokens = 0;  // tokens received
  double ttft_s = 0;          // time to first token
  std::vector<double> itl_s;  // per-token latencies (tools/bench/token_timer.h)
};

struct ReportContext {
  std::string workload;
  std::string mode;  // "in-process" or "grpc"
  uint64_t seed = 0;
  int concurrency = 0;
  int num_prompts = 0;
  std::optional<double> request_rate;  // requests per second; nullopt: all at once
};

struct LatencyStats {
  double min = 0, max = 0, mean = 0, p50 = 0, p75 = 0, p95 = 0, p99 = 0;  // 0 without samples
};

struct BenchReport {
  ReportContext context;
  double elapsed_s = 0;
  int completed = 0;
  int failed = 0;
  std::vector<std::string> errors;  // the distinct errors of failed requests, first few
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  LatencyStats ttft_s;
  LatencyStats itl_s;  // pooled over every token of every finished request
  double output_tok_s = 0;
  double total_tok_s = 0;
  double rps = 0;
  double rpm = 0;
};

BenchReport Summarize(const std::vector<RequestRecord>& records, double elapsed_s,
                      const ReportContext& context);

// The report as a table for a terminal.
std::string FormatReport(const BenchReport& report);

nlohmann::json ReportToJson(const BenchReport& report);

}  // namespace loom::bench
