// Binding call arguments to named parameters, as Python does for filters and methods.
#pragma once

#include <initializer_list>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/text/jinja/value.h"

namespace loom::jinja {

// Binds `args` to `params` in order (positional first, then by keyword). Returns one
// entry per parameter, nullopt where the call gave none. `what` names the callee in
// errors ("filter 'join'"). Errors: InvalidArgument for too many positional arguments,
// an unknown keyword, or a parameter given twice.
absl::StatusOr<std::vector<std::optional<Value>>> BindArgs(
    std::string_view what, const CallArgs& args, std::initializer_list<std::string_view> params);

// The bound value, or `fallback` where none was given.
inline Value ArgOr(const std::optional<Value>& arg, Value fallback) {
  return arg.has_value() ? *arg : std::move(fallback);
}

}  // namespace loom::jinja
