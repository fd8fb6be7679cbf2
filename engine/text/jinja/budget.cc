#include "engine/text/jinja/budget.h"

#include "absl/strings/str_cat.h"

namespace loom::jinja {

absl::Status Budget::Charge(int64_t steps) {
  steps_ += steps;
  if (steps_ > limits_.max_steps) {
    return absl::ResourceExhaustedError(
        absl::StrCat("template does more than ", limits_.max_steps,
                     " steps (loop iterations, macro calls, items processed)"));
  }
  return absl::OkStatus();
}

absl::Status Budget::CheckStringSize(size_t size) const {
  if (size > limits_.max_output_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("template output exceeds ", limits_.max_output_bytes, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace loom::jinja
