// Prometheus metrics of every served model, on their own HTTP port at /metrics.
//
// Nothing is counted twice: at each scrape the collector reads each engine's stats()
// snapshot (engine/engine_stats.h) and the server's RequestCounters, and turns them into
// metric families. The names follow Prometheus conventions (base units, `_total` on
// counters, `_seconds`, `_ratio`) and every series carries the label `model`:
//
//   loom_requests_running, loom_requests_waiting                     gauges
//   loom_kv_cache_usage_ratio, loom_kv_cache_blocks{state}           gauges
//   loom_sessions_open                                               gauge
//   loom_gpu_memory_used_bytes{device}                               gauge, CUDA only
//   loom_prefix_cache_queries_total, loom_prefix_cache_hits_total    counters, in tokens
//   loom_prompt_tokens_total, loom_generation_tokens_total           counters
//   loom_request_success_total{finished_reason="stop|length"}        counter
//   loom_request_failure_total{reason="invalid|rejected|cancelled|deadline|internal"}
//   loom_preemptions_total, loom_session_evictions_total             counters
//   loom_time_to_first_token_seconds, loom_inter_token_latency_seconds,
//   loom_e2e_request_latency_seconds, loom_request_queue_time_seconds,
//   loom_batch_size                                                  histograms
//   loom_build_info{version,commit}                                  gauge, always 1
//
// Thread-safety: Collect() may run on the HTTP server's threads at any time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"
#include "prometheus/metric_family.h"
#include "server/request_counters.h"
#include "server/served_model.h"

namespace loom {

class MetricsCollector : public prometheus::Collectable {
 public:
  // `models` and `counters` (by model name) must outlive the collector.
  MetricsCollector(
      const ModelRegistry* models,
      const absl::flat_hash_map<std::string, std::unique_ptr<RequestCounters>>* counters);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ModelRegistry* models_;
  const absl::flat_hash_map<std::string, std::unique_ptr<RequestCounters>>* counters_;
};

// The HTTP endpoint serving a collector at /metrics.
class MetricsEndpoint {
 public:
  // Listens on host:port (0: any free port). Unavailable when it cannot bind.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& host, int port, std::shared_ptr<prometheus::Collectable> collector);

  int port() const { return port_; }

 private:
  MetricsEndpoint() = default;

  std::shared_ptr<prometheus::Collectable> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace loom
