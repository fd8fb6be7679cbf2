// Per-model counts of generation calls the server refused before the engine saw them
// (the engine counts the rest in EngineStats). Exported as
// loom_request_failure_total{reason="invalid"|"rejected"}.
//
// Thread-safety: atomic.
#pragma once

#include <atomic>
#include <cstdint>

namespace loom {

struct RequestCounters {
  std::atomic<int64_t> invalid{0};   // malformed: INVALID_ARGUMENT, FAILED_PRECONDITION
  std::atomic<int64_t> rejected{0};  // queue full, draining, unauthenticated
};

}  // namespace loom
