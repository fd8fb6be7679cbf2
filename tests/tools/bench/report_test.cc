#include "tools/bench/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "tools/bench/percentile.h"

namespace loom::bench {
namespace {

TEST(PercentileTest, MatchesNumpyLinear) {
  const std::vector<double> four = {1, 2, 3, 4};
  // numpy.percentile([1, 2, 3, 4], [0, 25, 50, 75, 99, 100])
  EXPECT_DOUBLE_EQ(Percentile(four, 0), 1.0);
  EXPECT_DOUBLE_EQ(Percentile(four, 25), 1.75);
  EXPECT_DOUBLE_EQ(Percentile(four, 50), 2.5);
  EXPECT_NEAR(Percentile(four, 75), 3.25, 1e-12);
  EXPECT_NEAR(Percentile(four, 99), 3.97, 1e-12);
  EXPECT_DOUBLE_EQ(Percentile(four, 100), 4.0);
  std::vector<double> hundred_and_one;
  for (int i = 0; i <= 100; ++i) hundred_and_one.push_back(i);
  EXPECT_DOUBLE_EQ(Percentile(hundred_and_one, 95), 95.0);
  EXPECT_DOUBLE_EQ(Percentile(hundred_and_one, 99), 99.0);
  const std::vector<double> one = {7};
  EXPECT_DOUBLE_EQ(Percentile(one, 0), 7.0);
  EXPECT_DOUBLE_EQ(Percentile(one, 99), 7.0);
}

std::vector<RequestRecord> Records() {
  return {
      {.prompt_tokens = 10, .completion_tokens = 3, .ttft_s = 0.1, .itl_s = {0.01, 0.03}},
      {.prompt_tokens = 20, .completion_tokens = 2, .ttft_s = 0.3, .itl_s = {0.02}},
      {.status = absl::InvalidArgumentError("too long"), .prompt_tokens = 99},
      {.status = absl::InvalidArgumentError("too long"), .prompt_tokens = 98},
      {.prompt_tokens = 30, .completion_tokens = 2, .ttft_s = 0.2, .itl_s = {0.04}},
  };
}

TEST(ReportTest, SummarizeCountsFinishedRequestsOnly) {
  const BenchReport r = Summarize(
      Records(), 2.0,
      {.workload = "sharegpt-synth", .mode = "in-process", .concurrency = 4, .num_prompts = 5});
  EXPECT_EQ(r.completed, 3);
  EXPECT_EQ(r.failed, 2);
  EXPECT_THAT(r.errors, ::testing::ElementsAre("INVALID_ARGUMENT: too long"));
  EXPECT_EQ(r.prompt_tokens, 60);
  EXPECT_EQ(r.completion_tokens, 7);
  EXPECT_DOUBLE_EQ(r.ttft_s.min, 0.1);
  EXPECT_DOUBLE_EQ(r.ttft_s.max, 0.3);
  EXPECT_DOUBLE_EQ(r.ttft_s.mean, 0.2);
  EXPECT_DOUBLE_EQ(r.ttft_s.p50, 0.2);
  EXPECT_NEAR(r.ttft_s.p99, 0.298, 1e-12);
  // Pooled per-token latencies: 0.01, 0.02, 0.03, 0.04.
  EXPECT_NEAR(r.itl_s.p50, 0.025, 1e-12);
  EXPECT_NEAR(r.itl_s.p75, 0.0325, 1e-12);
  EXPECT_NEAR(r.itl_s.p95, 0.0385, 1e-12);
  EXPECT_NEAR(r.itl_s.p99, 0.0397, 1e-12);
  EXPECT_DOUBLE_EQ(r.output_tok_s, 3.5);
  EXPECT_DOUBLE_EQ(r.total_tok_s, 33.5);
  EXPECT_DOUBLE_EQ(r.rps, 1.5);
  EXPECT_DOUBLE_EQ(r.rpm, 90);
}

TEST(ReportTest, JsonHasTheDocumentedKeys) {
  const BenchReport r = Summarize(Records(), 2.0,
                                  {.workload = "latency",
                                   .mode = "grpc",
                                   .seed = 9,
                                   .concurrency = 1,
                                   .num_prompts = 5,
                                   .request_rate = 2.5});
  const nlohmann::json j = ReportToJson(r);
  for (const char* key :
       {"workload", "mode", "seed", "concurrency", "num_prompts", "request_rate", "completed",
        "failed", "errors", "elapsed_s", "prompt_tokens", "completion_tokens", "output_tok_s",
        "total_tok_s", "rps", "rpm", "ttft_s", "itl_s"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["ttft_s"].size(), 5u);
  for (const char* key : {"min", "max", "mean", "p50", "p99"})
    EXPECT_TRUE(j["ttft_s"].contains(key));
  EXPECT_EQ(j["itl_s"].size(), 4u);
  for (const char* key : {"p50", "p75", "p95", "p99"}) EXPECT_TRUE(j["itl_s"].contains(key));
  EXPECT_EQ(j["workload"], "latency");
  EXPECT_EQ(j["mode"], "grpc");
  EXPECT_EQ(j["seed"], 9);
  EXPECT_EQ(j["request_rate"], 2.5);
  EXPECT_EQ(j["failed"], 2);
  EXPECT_EQ(j["prompt_tokens"], 60);
  EXPECT_DOUBLE_EQ(j["rps"].get<double>(), 1.5);
  EXPECT_TRUE(ReportToJson(Summarize({}, 1.0, {})).at("request_rate").is_null());
}

TEST(ReportTest, TableShowsEveryFigure) {
  const std::string table = FormatReport(Summarize(
      Records(), 2.0,
      {.workload = "sharegpt-synth", .mode = "in-process", .concurrency = 4, .num_prompts = 5}));
  for (const char* text : {"sharegpt-synth",
                           "in-process",
                           "concurrency",
                           "elapsed time (s)",
                           "2.000",
                           "3 finished, 2 failed",
                           "first token",
                           "per token",
                           "prompt tokens",
                           "60",
                           "completion tokens",
                           "completion tok/s",
                           "3.5",
                           "total tok/s",
                           "33.5",
                           "RPS",
                           "1.500",
                           "RPM",
                           "90.0",
                           "0.2980",
                           "0.0397",
                           "error: INVALID_ARGUMENT: too long"}) {
    EXPECT_THAT(table, ::testing::HasSubstr(text));
  }
}

TEST(ReportTest, NoSamplesGiveZeros) {
  const BenchReport r = Summarize({}, 0.0, {});
  EXPECT_EQ(r.completed, 0);
  EXPECT_EQ(r.ttft_s.max, 0);
  EXPECT_EQ(r.rps, 0);
}

}  // namespace
}  // namespace loom::bench
