#include "server/metrics.h"

#include <exception>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "loom/version.h"
#include "prometheus/client_metric.h"
#include "prometheus/metric_type.h"

namespace loom {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// The families being built for one scrape, by name, in the order first seen.
class Families {
 public:
  void Add(const std::string& name, const std::string& help, MetricType type, ClientMetric m) {
    auto [it, inserted] = index_.try_emplace(name, families_.size());
    if (inserted) families_.push_back(MetricFamily{name, help, type, {}});
    families_[it->second].metric.push_back(std::move(m));
  }

  void Gauge(const std::string& name, const std::string& help,
             std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = value;
    Add(name, help, MetricType::Gauge, std::move(m));
  }

  void Counter(const std::string& name, const std::string& help,
               std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = value;
    Add(name, help, MetricType::Counter, std::move(m));
  }

  void Histogram(const std::string& name, const std::string& help,
                 std::vector<ClientMetric::Label> labels, const loom::Histogram& h) {
    ClientMetric m;
    m.label = std::move(labels);
    m.histogram.sample_count = h.count();
    m.histogram.sample_sum = h.sum();
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h.counts().size(); ++i) {
      cumulative += h.counts()[i];
      const double bound =
          i < h.bounds().size() ? h.bounds()[i] : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back({.cumulative_count = cumulative, .upper_bound = bound});
    }
    Add(name, help, MetricType::Histogram, std::move(m));
  }

  std::vector<MetricFamily> Take() { return std::move(families_); }

 private:
  std::vector<MetricFamily> families_;
  absl::flat_hash_map<std::string, size_t> index_;
};

}  // namespace

MetricsCollector::MetricsCollector(
    const ModelRegistry* models,
    const absl::flat_hash_map<std::string, std::unique_ptr<RequestCounters>>* counters)
    : models_(models), counters_(counters) {}

std::vector<MetricFamily> MetricsCollector::Collect() const {
  Families f;
  for (const auto& model : models_->models()) {
    const EngineStats s = model->engine->stats();
    const ClientMetric::Label m{"model", model->name};
    int64_t server_invalid = 0, server_rejected = 0;
    if (auto it = counters_->find(model->name); it != counters_->end()) {
      server_invalid = it->second->invalid.load(std::memory_order_relaxed);
      server_rejected = it->second->rejected.load(std::memory_order_relaxed);
    }
    f.Gauge("loom_build_info", "The loom build serving the model; always 1.",
            {m, {"version", kLoomVersion}, {"commit", kLoomCommit}}, 1);
    f.Gauge("loom_requests_running", "Requests in the running batch.", {m}, s.num_requests_running);
    f.Gauge("loom_requests_waiting", "Requests queued or waiting for admission.", {m},
            s.num_requests_waiting);
    f.Gauge("loom_kv_cache_usage_ratio", "Fraction of KV blocks held by requests and sessions.",
            {m}, s.kv_cache_usage_ratio);
    const std::string blocks_help = "KV blocks by state: free, active (in use), cached (prefix).";
    f.Gauge("loom_kv_cache_blocks", blocks_help, {m, {"state", "free"}}, s.num_blocks_free);
    f.Gauge("loom_kv_cache_blocks", blocks_help, {m, {"state", "active"}}, s.num_blocks_active);
    f.Gauge("loom_kv_cache_blocks", blocks_help, {m, {"state", "cached"}}, s.num_blocks_cached);
    f.Gauge("loom_sessions_open", "Open stateful sessions.", {m}, s.num_sessions);
    if (s.device_memory.has_value()) {
      f.Gauge("loom_gpu_memory_used_bytes",
              "Memory in use on the model's GPU (total less free, every process), read by the "
              "engine at most once a second.",
              {m, {"device", absl::StrCat(s.device_memory->device)}},
              static_cast<double>(s.device_memory->total_bytes - s.device_memory->free_bytes));
    }
    f.Counter("loom_prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.",
              {m}, s.prefix_cache_queries);
    f.Counter("loom_prefix_cache_hits_total", "Prompt tokens served from the prefix cache.", {m},
              s.prefix_cache_hits);
    f.Counter("loom_prompt_tokens_total", "Prompt tokens of finished requests.", {m},
              s.prompt_tokens);
    f.Counter("loom_generation_tokens_total", "Generated tokens.", {m}, s.generation_tokens);
    const std::string success_help = "Requests that finished, by finish reason.";
    f.Counter("loom_request_success_total", success_help, {m, {"finished_reason", "stop"}},
              s.requests_finished_stop);
    f.Counter("loom_request_success_total", success_help, {m, {"finished_reason", "length"}},
              s.requests_finished_length);
    const std::string failure_help = "Requests that ended without finishing, by reason.";
    f.Counter("loom_request_failure_total", failure_help, {m, {"reason", "invalid"}},
              server_invalid + s.requests_failed_invalid);
    f.Counter("loom_request_failure_total", failure_help, {m, {"reason", "rejected"}},
              server_rejected + s.requests_failed_rejected);
    f.Counter("loom_request_failure_total", failure_help, {m, {"reason", "cancelled"}},
              s.requests_cancelled);
    f.Counter("loom_request_failure_total", failure_help, {m, {"reason", "deadline"}},
              s.requests_failed_deadline);
    f.Counter("loom_request_failure_total", failure_help, {m, {"reason", "internal"}},
              s.requests_failed_internal);
    f.Counter("loom_preemptions_total", "Sequences preempted (recomputed later).", {m},
              s.num_preemptions);
    f.Counter("loom_session_evictions_total", "Idle sessions whose KV was evicted.", {m},
              s.num_session_evictions);
    f.Histogram("loom_time_to_first_token_seconds", "From arrival to the first token.", {m},
                s.time_to_first_token_seconds);
    f.Histogram("loom_inter_token_latency_seconds", "Between consecutive tokens of a request.", {m},
                s.inter_token_latency_seconds);
    f.Histogram("loom_e2e_request_latency_seconds", "From arrival to the last token.", {m},
                s.e2e_request_latency_seconds);
    f.Histogram("loom_request_queue_time_seconds", "From arrival to the first step.", {m},
                s.request_queue_time_seconds);
    f.Histogram("loom_batch_size", "Sequences per engine step.", {m}, s.batch_size);
    f.Counter("loom_async_scheduling_steps_total",
              "Decode steps queued before the step before them was read back.", {m},
              s.num_async_steps);
    f.Counter("loom_async_scheduling_discarded_tokens_total",
              "Tokens computed by such steps for requests that had ended meanwhile.", {m},
              s.num_async_discarded_tokens);
  }
  return f.Take();
}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& host, int port, std::shared_ptr<prometheus::Collectable> collector) {
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint());
  const std::string address = absl::StrCat(host, ":", port);
  try {
    endpoint->exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics_port: cannot listen on ", address, ": ", e.what()));
  }
  endpoint->collector_ = std::move(collector);
  endpoint->exposer_->RegisterCollectable(endpoint->collector_, "/metrics");
  const std::vector<int> ports = endpoint->exposer_->GetListeningPorts();
  if (ports.empty()) return absl::UnavailableError(absl::StrCat("metrics_port: ", address));
  endpoint->port_ = ports.front();
  return endpoint;
}

}  // namespace loom
