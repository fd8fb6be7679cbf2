// Metrics end to end: a real server on loopback, real traffic over gRPC, and /metrics
// scraped over HTTP. The counters must move by exactly what the traffic did, the text
// must pass `promtool check metrics`, and KV usage must return to idle.
#include <curl/curl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "loom/v1/generation.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "server/server.h"
#include "tests/engine/model_test_util.h"

namespace loom {
namespace {

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// GET http://127.0.0.1:port/metrics.
std::string Scrape(int port) {
  std::string body;
  CURL* curl = curl_easy_init();
  const std::string url = absl::StrCat("http://127.0.0.1:", port, "/metrics");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  const CURLcode result = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  EXPECT_EQ(result, CURLE_OK) << curl_easy_strerror(result);
  EXPECT_EQ(code, 200);
  return body;
}

// Series (the exact text before the value, e.g. `loom_x{model="tiny"}`) to value.
std::map<std::string, double> Parse(const std::string& text) {
  std::map<std::string, double> series;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    series[std::string(line.substr(0, space))] = std::stod(std::string(line.substr(space + 1)));
  }
  return series;
}

// `model` served alone on loopback, gRPC and /metrics each on a free port.
absl::StatusOr<std::unique_ptr<Server>> ServeOnLoopback(ServedModel model) {
  ModelRegistry models;
  models.Add(std::move(model));
  ServerOptions options;
  options.port = 0;
  options.metrics_port = 0;
  return Server::Start(std::move(models), options);
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto model = LoadServedModel(testing::BundledModelDir(), "tiny",
                                 EngineOptions{.block_size = 16, .session_len = 256}, {});
    ASSERT_TRUE(model.ok()) << model.status();
    auto server = ServeOnLoopback(*std::move(model));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::Generation::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                                        grpc::InsecureChannelCredentials()));
  }

  grpc::Status Generate(const std::vector<uint32_t>& prompt, int max_tokens, float temperature) {
    v1::GenerateRequest r;
    for (uint32_t id : prompt) r.mutable_tokens()->add_ids(id);
    r.mutable_sampling()->set_temperature(temperature);
    r.mutable_sampling()->set_max_tokens(max_tokens);
    r.mutable_sampling()->set_ignore_eos(true);
    grpc::ClientContext context;
    auto reader = stub_->Generate(&context, r);
    v1::GenerateResponse response;
    while (reader->Read(&response)) {
    }
    return reader->Finish();
  }

  std::unique_ptr<Server> server_;
  std::unique_ptr<v1::Generation::Stub> stub_;
};

TEST_F(MetricsTest, CountersMoveByWhatTheTrafficDid) {
  const std::string m = "model=\"tiny\"";
  auto before = Parse(Scrape(server_->metrics_port()));
  int prompt_tokens = 0;
  for (int i = 0; i < 5; ++i) {
    std::vector<uint32_t> prompt(3 + i, 100 + i);
    prompt_tokens += static_cast<int>(prompt.size());
    ASSERT_TRUE(Generate(prompt, 7, 0.0f).ok());
  }
  EXPECT_EQ(Generate({1, 2}, 4, -1.0f).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  const std::string text = Scrape(server_->metrics_port());
  auto after = Parse(text);
  auto delta = [&](const std::string& series) { return after[series] - before[series]; };
  EXPECT_EQ(delta("loom_generation_tokens_total{" + m + "}"), 35);
  EXPECT_EQ(delta("loom_prompt_tokens_total{" + m + "}"), prompt_tokens);
  EXPECT_EQ(delta("loom_request_success_total{" + m + ",finished_reason=\"length\"}"), 5);
  EXPECT_EQ(delta("loom_request_success_total{" + m + ",finished_reason=\"stop\"}"), 0);
  EXPECT_EQ(delta("loom_request_failure_total{" + m + ",reason=\"invalid\"}"), 1);
  EXPECT_EQ(delta("loom_request_failure_total{" + m + ",reason=\"rejected\"}"), 0);
  EXPECT_EQ(delta("loom_prefix_cache_queries_total{" + m + "}"), prompt_tokens);
  EXPECT_EQ(delta("loom_time_to_first_token_seconds_count{" + m + "}"), 5);
  EXPECT_EQ(delta("loom_inter_token_latency_seconds_count{" + m + "}"), 5 * 6);
  EXPECT_EQ(delta("loom_e2e_request_latency_seconds_count{" + m + "}"), 5);
  EXPECT_EQ(delta("loom_request_queue_time_seconds_count{" + m + "}"), 5);
  EXPECT_GT(delta("loom_e2e_request_latency_seconds_sum{" + m + "}"), 0);
  EXPECT_EQ(after["loom_time_to_first_token_seconds_bucket{" + m + ",le=\"+Inf\"}"],
            after["loom_time_to_first_token_seconds_count{" + m + "}"]);
  EXPECT_GE(delta("loom_batch_size_count{" + m + "}"), 7);  // at least one step per token
  EXPECT_NE(text.find("loom_build_info{" + m + ",version=\""), std::string::npos);
  EXPECT_EQ(text.find("loom_gpu_memory_used_bytes"), std::string::npos)
      << "the CPU backend has no device memory to report";

  // promtool, from Debian's prometheus package, accepts the exposition.
  const auto file =
      std::filesystem::temp_directory_path() / absl::StrCat("loom_metrics_", getpid(), ".txt");
  std::ofstream(file) << text;
  const std::string command = "promtool check metrics < " + file.string() + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  const int status = pclose(pipe);
  EXPECT_EQ(status, 0) << "promtool check metrics:\n" << output;
  std::filesystem::remove(file);
}

TEST_F(MetricsTest, KvUsageReturnsToIdleAfterTraffic) {
  const std::string m = "model=\"tiny\"";
  auto idle = Parse(Scrape(server_->metrics_port()));
  EXPECT_EQ(idle["loom_kv_cache_usage_ratio{" + m + "}"], 0);
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&, i] { EXPECT_TRUE(Generate({5, 6, 7, uint32_t(i)}, 20, 0.0f).ok()); });
  }
  for (auto& t : clients) t.join();
  std::map<std::string, double> now;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  do {
    now = Parse(Scrape(server_->metrics_port()));
  } while (now["loom_kv_cache_usage_ratio{" + m + "}"] != 0 && absl::Now() < deadline);
  EXPECT_EQ(now["loom_kv_cache_usage_ratio{" + m + "}"], 0);
  EXPECT_EQ(now["loom_kv_cache_blocks{" + m + ",state=\"active\"}"], 0);
  EXPECT_EQ(now["loom_requests_running{" + m + "}"], 0);
  EXPECT_EQ(now["loom_requests_waiting{" + m + "}"], 0);
  EXPECT_GT(now["loom_kv_cache_blocks{" + m + ",state=\"cached\"}"], 0);  // prefix cache
}

// With the CUDA backend, /metrics also carries the GPU's memory in use, a gauge labelled
// with the device, at least the KV pool's bytes. Skips when no CUDA device is usable.
TEST(CudaMetricsTest, GpuMemoryInUseIsExportedPerDevice) {
  constexpr int kBlocks = 4096, kBlockSize = 16;
  auto model = LoadServedModel(
      testing::BundledModelDir(), "tiny",
      EngineOptions{.block_size = kBlockSize, .session_len = 256, .num_blocks = kBlocks}, {},
      ServedModelOptions{.backend = "cuda"});
  if (!model.ok() && (model.status().code() == absl::StatusCode::kFailedPrecondition ||
                      model.status().code() == absl::StatusCode::kUnimplemented)) {
    GTEST_SKIP() << "no usable CUDA backend: " << model.status();
  }
  ASSERT_TRUE(model.ok()) << model.status();
  const int64_t pool_bytes =
      kBlocks * ModelRunner::BytesPerBlock(model->engine->model().config, kBlockSize,
                                           model->backend->activation_dtype());
  auto server = ServeOnLoopback(*std::move(model));
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string text = Scrape((*server)->metrics_port());
  auto series = Parse(text);
  const std::string used = "loom_gpu_memory_used_bytes{model=\"tiny\",device=\"0\"}";
  ASSERT_TRUE(series.contains(used)) << text;
  EXPECT_GE(series[used], pool_bytes);
  EXPECT_NE(text.find("# TYPE loom_gpu_memory_used_bytes gauge"), std::string::npos);
}

// Every string in `node` (recursively) under the keys "expr", "query" or "definition".
void CollectQueries(const nlohmann::json& node, std::vector<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (value.is_string() && (key == "expr" || key == "query" || key == "definition")) {
        out.push_back(value.get<std::string>());
      } else {
        CollectQueries(value, out);
      }
    }
  } else if (node.is_array()) {
    for (const auto& value : node) CollectQueries(value, out);
  }
}

TEST_F(MetricsTest, GrafanaDashboardUsesOnlyExportedMetrics) {
  std::set<std::string> exported;  // series names, histograms' _bucket/_sum/_count included
  for (const auto& [series, value] : Parse(Scrape(server_->metrics_port()))) {
    exported.insert(series.substr(0, series.find('{')));
  }
  std::ifstream in(std::string(LOOM_SOURCE_DIR) + "/deploy/grafana/loom.json");
  ASSERT_TRUE(in) << "deploy/grafana/loom.json is missing";
  const nlohmann::json dashboard = nlohmann::json::parse(in);
  std::vector<std::string> queries;
  CollectQueries(dashboard, queries);
  ASSERT_GE(queries.size(), 12u);
  std::set<std::string> used;
  auto is_name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  };
  for (const std::string& query : queries) {
    // Every identifier that starts with "loom_" (a whole word).
    for (size_t at = query.find("loom_"); at != std::string::npos;
         at = query.find("loom_", at + 1)) {
      if (at > 0 && is_name_char(query[at - 1])) continue;
      size_t end = at;
      while (end < query.size() && is_name_char(query[end])) ++end;
      const std::string name = query.substr(at, end - at);
      used.insert(name);
      EXPECT_TRUE(exported.contains(name)) << name << " in: " << query;
    }
  }
  for (const char* needed :
       {"loom_generation_tokens_total", "loom_time_to_first_token_seconds_bucket",
        "loom_inter_token_latency_seconds_bucket", "loom_requests_waiting",
        "loom_kv_cache_usage_ratio", "loom_prefix_cache_hits_total"}) {
    EXPECT_TRUE(used.contains(needed)) << "the dashboard does not show " << needed;
  }
}

}  // namespace
}  // namespace loom
