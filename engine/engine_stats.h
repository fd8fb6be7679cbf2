// A snapshot of one engine's state and counters. The engine fills it; server/ exports
// it as Prometheus metrics (no Prometheus type appears in engine/). Counters only grow.
#pragma once

#include <cstdint>
#include <optional>

#include "engine/histogram.h"
#include "kernels/backend.h"

namespace loom {

struct EngineStats {
  // Gauges.
  int num_requests_running = 0;
  int num_requests_waiting = 0;  // queued or waiting for admission (preempted included)
  int num_blocks = 0;
  int num_blocks_free = 0;
  int num_blocks_active = 0;
  int num_blocks_cached = 0;
  double kv_cache_usage_ratio = 0.0;  // active / all blocks
  int num_sessions = 0;               // open stateful sessions
  // The backend's device memory (CUDA; none on the CPU), read at start-up and then at
  // most once a second (Engine::kDeviceMemoryInterval) by the worker between steps.
  std::optional<DeviceMemory> device_memory;
  // Counters.
  int64_t prefix_cache_queries = 0;  // prompt tokens looked up at first admission
  int64_t prefix_cache_hits = 0;     // ... of which served from cached blocks
  int64_t num_preemptions = 0;
  int64_t num_session_evictions = 0;  // idle sessions' KV given back under memory pressure
  int64_t prompt_tokens = 0;          // of finished requests
  int64_t generation_tokens = 0;      // sampled, over all requests
  int64_t requests_finished_stop = 0;
  int64_t requests_finished_length = 0;
  int64_t requests_cancelled = 0;
  // Requests that ended with an error status, by cause (they add up to requests_failed).
  int64_t requests_failed = 0;
  int64_t requests_failed_invalid = 0;   // InvalidArgument, FailedPrecondition (sessions)
  int64_t requests_failed_rejected = 0;  // ResourceExhausted (e.g. max_sessions)
  int64_t requests_failed_deadline = 0;  // the deadline passed while it waited
  int64_t requests_failed_internal = 0;  // anything else
  int64_t num_steps = 0;
  // Async scheduling: steps queued before the step before them was read back, and the
  // tokens they computed for sequences that ended meanwhile.
  int64_t num_async_steps = 0;
  int64_t num_async_discarded_tokens = 0;

  // Histograms.
  Histogram time_to_first_token_seconds{TimeToFirstTokenBuckets()};   // arrival to 1st token
  Histogram inter_token_latency_seconds{InterTokenLatencyBuckets()};  // between tokens
  Histogram e2e_request_latency_seconds{RequestLatencyBuckets()};     // arrival to finish
  Histogram request_queue_time_seconds{RequestLatencyBuckets()};      // arrival to 1st step
  Histogram batch_size{BatchSizeBuckets()};                           // sequences per step
};

}  // namespace loom
