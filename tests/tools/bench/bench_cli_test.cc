// Runs the real `loom bench` on the bundled tiny model, in-process and against a
// `loom serve` child process on loopback, and checks its JSON report for internal
// consistency against the request set it ran.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "nlohmann/json.hpp"
#include "tests/tools/loom_cli.h"

namespace {

using loom::testing::CliResult;
using loom::testing::RunLoom;
using loom::testing::ServeProcess;

using ::testing::HasSubstr;
using ::testing::Not;

// Small enough for two CPU cores: sharegpt-synth lengths are cut to prompt + output <= 512.
constexpr char kSession[] = " --session-len 512";
constexpr char kSynth[] = " --workload sharegpt-synth --num-prompts 16 --seed 0";

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/bench_cli_" + std::to_string(getpid()) + "_" + name;
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// The report of a run of `set` with `concurrency` agrees with itself and with the set.
void ExpectConsistent(const nlohmann::json& report, const nlohmann::json& set, int concurrency,
                      const std::string& mode) {
  ASSERT_TRUE(report.is_object()) << report;
  ASSERT_TRUE(set.is_object()) << set;
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  for (const auto& r : set["requests"]) {
    prompt_tokens += r["prompt_ids"].size();
    output_tokens += r["output_len"].get<int64_t>();
  }
  const int n = static_cast<int>(set["requests"].size());
  EXPECT_EQ(report["mode"], mode);
  EXPECT_EQ(report["workload"], set["workload"]);
  EXPECT_EQ(report["seed"], set["seed"]);
  EXPECT_EQ(report["concurrency"], concurrency);
  EXPECT_EQ(report["num_prompts"], n);
  EXPECT_EQ(report["completed"], n);
  EXPECT_EQ(report["failed"], 0);
  // Every request generated exactly its output_len: EOS was ignored.
  EXPECT_EQ(report["completion_tokens"], output_tokens);
  EXPECT_EQ(report["prompt_tokens"], prompt_tokens);

  const double elapsed = report["elapsed_s"];
  EXPECT_GT(elapsed, 0);
  const auto& ttft = report["ttft_s"];
  EXPECT_GT(ttft["min"].get<double>(), 0);
  EXPECT_LE(ttft["min"].get<double>(), ttft["p50"].get<double>());
  EXPECT_LE(ttft["p50"].get<double>(), ttft["p99"].get<double>());
  EXPECT_LE(ttft["p99"].get<double>(), ttft["max"].get<double>());
  EXPECT_LE(ttft["min"].get<double>(), ttft["mean"].get<double>());
  EXPECT_LE(ttft["mean"].get<double>(), ttft["max"].get<double>());
  EXPECT_LT(ttft["max"].get<double>(), elapsed);
  const auto& itl = report["itl_s"];
  EXPECT_GT(itl["p50"].get<double>(), 0);
  EXPECT_LE(itl["p50"].get<double>(), itl["p75"].get<double>());
  EXPECT_LE(itl["p75"].get<double>(), itl["p95"].get<double>());
  EXPECT_LE(itl["p95"].get<double>(), itl["p99"].get<double>());
  EXPECT_LT(itl["p99"].get<double>(), elapsed);

  EXPECT_NEAR(report["rps"].get<double>() * elapsed, n, 1e-6 * n);
  EXPECT_NEAR(report["rpm"].get<double>(), 60 * report["rps"].get<double>(), 1e-9);
  EXPECT_NEAR(report["output_tok_s"].get<double>() * elapsed, output_tokens, 1e-6 * output_tokens);
  EXPECT_NEAR(report["total_tok_s"].get<double>() * elapsed, prompt_tokens + output_tokens,
              1e-6 * (prompt_tokens + output_tokens));
}

TEST(BenchCliTest, InProcessSharegptSynthRunMatchesItsRequestSet) {
  const std::string dump = TempPath("synth_set.json");
  CliResult dumped = RunLoom(std::string("bench") + kSynth + kSession + " --dump-requests " + dump);
  ASSERT_EQ(dumped.exit_code, 0) << dumped.out;
  const nlohmann::json set = ReadJson(dump);
  ASSERT_EQ(set["requests"].size(), 16u) << dumped.out;

  const std::string json = TempPath("synth_report.json");
  CliResult run =
      RunLoom(std::string("bench") + kSynth + kSession + " --concurrency 8 --json " + json);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  ExpectConsistent(ReadJson(json), set, 8, "in-process");
  // The table, and no progress bar: the output is a pipe, not a terminal.
  EXPECT_THAT(run.out, HasSubstr("completion tok/s"));
  EXPECT_THAT(run.out, HasSubstr("first token"));
  EXPECT_THAT(run.out, Not(HasSubstr("\r")));
}

TEST(BenchCliTest, LatencyRunsOneAtATimeAndScalesToASmallSession) {
  const std::string json = TempPath("latency_report.json");
  CliResult run = RunLoom(
      "bench --workload latency --num-prompts 2 --concurrency 8 --session-len 64 "
      "--json " +
      json);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("scaled down to 33 + 31 tokens"));
  const nlohmann::json report = ReadJson(json);
  EXPECT_EQ(report["concurrency"], 1);
  EXPECT_EQ(report["completion_tokens"], 2 * 31);
  EXPECT_EQ(report["prompt_tokens"], 2 * 33);
}

TEST(BenchCliTest, ServerModeRunsTheSameRequestSetsOverGrpc) {
  ServeProcess server(kSession);
  ASSERT_GT(server.port(), 0) << "loom serve did not start";
  const std::string dataset =
      std::string(LOOM_SOURCE_DIR) + "/tests/tools/bench/data/sharegpt_small.json";
  for (const std::string& workload :
       {std::string(kSynth), std::string(" --workload latency --num-prompts 3 --seed 7"),
        " --workload sharegpt --num-prompts 10 --seed 1 --dataset " + dataset}) {
    const std::string local = TempPath("local_set.json");
    const std::string remote = TempPath("remote_set.json");
    CliResult a = RunLoom("bench" + workload + kSession + " --dump-requests " + local);
    ASSERT_EQ(a.exit_code, 0) << a.out;
    CliResult b =
        RunLoom("bench --server " + server.target() + workload + " --dump-requests " + remote);
    ASSERT_EQ(b.exit_code, 0) << b.out;
    const nlohmann::json local_set = ReadJson(local);
    EXPECT_FALSE(local_set["requests"].empty()) << workload;
    EXPECT_EQ(local_set, ReadJson(remote)) << workload;
  }

  const std::string set_path = TempPath("grpc_set.json");
  ASSERT_EQ(
      RunLoom(std::string("bench") + kSynth + kSession + " --dump-requests " + set_path).exit_code,
      0);
  const std::string json = TempPath("grpc_report.json");
  CliResult run =
      RunLoom("bench --server " + server.target() + kSynth + " --concurrency 8 --json " + json);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  ExpectConsistent(ReadJson(json), ReadJson(set_path), 8, "grpc");

  // A dumped set runs as it is through the server too.
  const std::string replay = TempPath("grpc_replay.json");
  CliResult replayed = RunLoom("bench --server " + server.target() + " --requests " + set_path +
                               " --concurrency 16 --json " + replay);
  ASSERT_EQ(replayed.exit_code, 0) << replayed.out;
  ExpectConsistent(ReadJson(replay), ReadJson(set_path), 16, "grpc");
}

TEST(BenchCliTest, FailedRequestsAreReportedAndExitNonZero) {
  const std::string set_path = TempPath("failing_set.json");
  // The second request does not fit session_len 512.
  std::ofstream(set_path) << R"({"workload": "custom", "seed": 0, "requests": [
      {"prompt_ids": [1, 2, 3], "output_len": 4},
      {"prompt_ids": [1, 2, 3], "output_len": 600}]})";
  const std::string json = TempPath("failing_report.json");
  CliResult run =
      RunLoom(std::string("bench --requests ") + set_path + kSession + " --json " + json);
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_THAT(run.out, HasSubstr("1 of 2 requests failed"));
  EXPECT_THAT(run.out, HasSubstr("session_len"));
  const nlohmann::json report = ReadJson(json);
  EXPECT_EQ(report["failed"], 1);
  EXPECT_EQ(report["completed"], 1);
  EXPECT_EQ(report["completion_tokens"], 4);
}

TEST(BenchCliTest, BadFlagsAreClearErrors) {
  CliResult no_dataset = RunLoom("bench --workload sharegpt --num-prompts 2 --dump-requests " +
                                 TempPath("unused.json"));
  EXPECT_NE(no_dataset.exit_code, 0);
  EXPECT_THAT(no_dataset.out, HasSubstr("--dataset"));

  CliResult engine_flag_with_server = RunLoom("bench --server 127.0.0.1:1 --max-batch-size 4");
  EXPECT_NE(engine_flag_with_server.exit_code, 0);
  EXPECT_THAT(engine_flag_with_server.out, HasSubstr("--max-batch-size"));

  CliResult no_server = RunLoom("bench --server 127.0.0.1:1 --num-prompts 2 --dump-requests " +
                                TempPath("unused.json"));
  EXPECT_EQ(no_server.exit_code, 1);
  EXPECT_THAT(no_server.out, HasSubstr("loom bench:"));

  CliResult bad_workload = RunLoom("bench --workload nope");
  EXPECT_NE(bad_workload.exit_code, 0);
  EXPECT_THAT(bad_workload.out, HasSubstr("--workload"));
}

}  // namespace
