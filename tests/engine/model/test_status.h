// Test-only: a Status message as std::string.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace loom::testing {

// The system abseil's string_view is not std::string_view, so gmock's string matchers
// cannot take Status::message() directly.
inline std::string MessageOf(const absl::Status& status) { return std::string(status.message()); }

}  // namespace loom::testing
