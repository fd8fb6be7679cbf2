// Resource bounds for rendering an untrusted template.
//
// A template is a program from the model's files (or a client), so rendering must end
// and must stay small whatever it says. RenderLimits bounds the output (and every string
// built on the way), the work done (loop iterations, macro calls, and items that filters
// walk), and the macro call depth. Budget tracks one render against those bounds.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace loom::jinja {

struct RenderLimits {
  // The rendered text, and any single string or captured block, may not grow past this.
  size_t max_output_bytes = size_t{1} << 20;
  // Loop iterations + macro calls + items that filters walk + KiB of strings built +
  // 16-item chunks of lists copied. Real chat templates take a few steps per message.
  int64_t max_steps = 2'000'000;
  // Nested macro / caller() calls.
  int max_call_depth = 32;
  // Stack the interpreter may use below Render()'s frame. The nesting limits already
  // bound recursion; this also keeps a render on a small-stack thread from overflowing
  // (the deepest template those limits allow needs about 1 MiB in an optimized build,
  // several times more under AddressSanitizer).
  size_t max_stack_bytes = size_t{1} << 20;
};

// Not thread-safe: one per render.
class Budget {
 public:
  explicit Budget(const RenderLimits& limits) : limits_(limits) {}

  const RenderLimits& limits() const { return limits_; }

  // Spends `steps`. Errors: ResourceExhausted once the total passes max_steps.
  absl::Status Charge(int64_t steps);
  // Spends the work of producing or scanning `bytes` of string (1 step per KiB).
  absl::Status ChargeBytes(size_t bytes) { return Charge(1 + static_cast<int64_t>(bytes >> 10)); }
  // Spends the work of copying `items` list items (1 step per 16).
  absl::Status ChargeItems(size_t items) { return Charge(1 + static_cast<int64_t>(items >> 4)); }
  // Errors: ResourceExhausted when a string of `size` bytes is over max_output_bytes.
  absl::Status CheckStringSize(size_t size) const;

 private:
  RenderLimits limits_;
  int64_t steps_ = 0;
};

}  // namespace loom::jinja
