#include "tools/bench/report.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/bench/percentile.h"

namespace loom::bench {
namespace {

constexpr size_t kMaxErrors = 5;

LatencyStats Stats(std::vector<double> samples) {
  LatencyStats s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.min = samples.front();
  s.max = samples.back();
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / samples.size();
  s.p50 = Percentile(samples, 50);
  s.p75 = Percentile(samples, 75);
  s.p95 = Percentile(samples, 95);
  s.p99 = Percentile(samples, 99);
  return s;
}

double PerSecond(double count, double elapsed_s) { return elapsed_s > 0 ? count / elapsed_s : 0; }

}  // namespace

BenchReport Summarize(const std::vector<RequestRecord>& records, double elapsed_s,
                      const ReportContext& context) {
  BenchReport report{.context = context, .elapsed_s = elapsed_s};
  std::vector<double> ttft;
  std::vector<double> itl;
  for (const RequestRecord& r : records) {
    if (!r.status.ok()) {
      ++report.failed;
      std::string error = r.status.ToString();
      if (report.errors.size() < kMaxErrors &&
          std::find(report.errors.begin(), report.errors.end(), error) == report.errors.end()) {
        report.errors.push_back(std::move(error));
      }
      continue;
    }
    ++report.completed;
    report.prompt_tokens += r.prompt_tokens;
    report.completion_tokens += r.completion_tokens;
    ttft.push_back(r.ttft_s);
    itl.insert(itl.end(), r.itl_s.begin(), r.itl_s.end());
  }
  report.ttft_s = Stats(std::move(ttft));
  report.itl_s = Stats(std::move(itl));
  report.output_tok_s = PerSecond(static_cast<double>(report.completion_tokens), elapsed_s);
  report.total_tok_s =
      PerSecond(static_cast<double>(report.prompt_tokens + report.completion_tokens), elapsed_s);
  report.rps = PerSecond(report.completed, elapsed_s);
  report.rpm = report.rps * 60;
  return report;
}

std::string FormatReport(const BenchReport& r) {
  const ReportContext& c = r.context;
  const std::string rate =
      c.request_rate ? absl::StrFormat("%g req/s (Poisson)", *c.request_rate) : "inf";
  const auto row = [](const char* name, const std::string& value) {
    return absl::StrFormat("%-26s%s\n", name, value);
  };
  std::string out(72, '-');
  absl::StrAppend(&out, "\n");
  absl::StrAppend(&out, row("workload", absl::StrCat(c.workload, " (seed ", c.seed, ")")),
                  row("mode", c.mode), row("concurrency", absl::StrCat(c.concurrency)),
                  row("request rate", rate),
                  row("elapsed time (s)", absl::StrFormat("%.3f", r.elapsed_s)),
                  row("requests", absl::StrCat(r.completed, " finished, ", r.failed, " failed")));
  absl::StrAppend(&out, "\n",
                  absl::StrFormat("%-20s%9s%9s%9s%9s%9s%9s%9s\n", "latency (s)", "min", "max",
                                  "mean", "p50", "p75", "p95", "p99"));
  const auto f = [](double v) { return absl::StrFormat("%.4f", v); };
  const LatencyStats& t = r.ttft_s;
  const LatencyStats& i = r.itl_s;
  absl::StrAppend(&out,
                  absl::StrFormat("%-20s%9s%9s%9s%9s%9s%9s%9s\n", "first token", f(t.min), f(t.max),
                                  f(t.mean), f(t.p50), "-", "-", f(t.p99)),
                  absl::StrFormat("%-20s%9s%9s%9s%9s%9s%9s%9s\n", "per token", "-", "-", "-",
                                  f(i.p50), f(i.p75), f(i.p95), f(i.p99)));
  absl::StrAppend(&out, "\n", row("prompt tokens", absl::StrCat(r.prompt_tokens)),
                  row("completion tokens", absl::StrCat(r.completion_tokens)),
                  row("completion tok/s", absl::StrFormat("%.1f", r.output_tok_s)),
                  row("total tok/s", absl::StrFormat("%.1f", r.total_tok_s)),
                  row("RPS (requests/s)", absl::StrFormat("%.3f", r.rps)),
                  row("RPM (requests/min)", absl::StrFormat("%.1f", r.rpm)));
  for (const std::string& error : r.errors) absl::StrAppend(&out, "error: ", error, "\n");
  absl::StrAppend(&out, std::string(72, '-'), "\n");
  return out;
}

nlohmann::json ReportToJson(const BenchReport& r) {
  const ReportContext& c = r.context;
  return {
      {"workload", c.workload},
      {"mode", c.mode},
      {"seed", c.seed},
      {"concurrency", c.concurrency},
      {"num_prompts", c.num_prompts},
      {"request_rate", c.request_rate ? nlohmann::json(*c.request_rate) : nlohmann::json()},
      {"completed", r.completed},
      {"failed", r.failed},
      {"errors", r.errors},
      {"elapsed_s", r.elapsed_s},
      {"prompt_tokens", r.prompt_tokens},
      {"completion_tokens", r.completion_tokens},
      {"output_tok_s", r.output_tok_s},
      {"total_tok_s", r.total_tok_s},
      {"rps", r.rps},
      {"rpm", r.rpm},
      {"ttft_s",
       {{"min", r.ttft_s.min},
        {"max", r.ttft_s.max},
        {"mean", r.ttft_s.mean},
        {"p50", r.ttft_s.p50},
        {"p99", r.ttft_s.p99}}},
      {"itl_s",
       {{"p50", r.itl_s.p50}, {"p75", r.itl_s.p75}, {"p95", r.itl_s.p95}, {"p99", r.itl_s.p99}}},
  };
}

}  // namespace loom::bench
