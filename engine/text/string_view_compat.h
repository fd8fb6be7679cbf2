// Conversions between std::string_view and absl::string_view.
//
// Some Abseil builds (Debian's among them) define absl::string_view as their own class
// rather than an alias of std::string_view, so absl::StrCat, absl::Status and the
// heterogeneous lookup of absl hash maps do not accept a std::string_view directly.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace loom::text {

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace loom::text
