// Jinja tests: the `name` in `x is name` / `x is not name(args)`.
//
// Supported: defined, undefined, none, boolean, true, false, integer, float, number,
// string, mapping, iterable, sequence, callable, odd, even, divisibleby, eq/equalto/==,
// ne/!=, lt/lessthan/<, le/<=, gt/greaterthan/>, ge/>=, in, sameas, lower, upper, escaped.
// Each follows jinja2's definition (e.g. `true` is identity with True, so `1 is true` is
// false; `number` includes booleans).
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "engine/text/jinja/value.h"

namespace loom::jinja {

bool IsKnownTest(std::string_view name);

// REQUIRES: IsKnownTest(name). Errors: InvalidArgument for bad arguments or operand
// types (e.g. `"a" is odd`).
absl::StatusOr<bool> ApplyTest(std::string_view name, const Value& value, const CallArgs& args);

// Python `needle in haystack`. Errors: InvalidArgument (TypeError) when `haystack` is
// not a container ("argument of type 'NoneType' is not iterable") or a str is searched
// for a non-str.
absl::StatusOr<bool> PyContains(const Value& haystack, const Value& needle);

}  // namespace loom::jinja
