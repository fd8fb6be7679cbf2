// Python's printf-style string formatting: `"%s: %d" % (a, b)` and jinja2's `format`
// filter.
//
// Supported conversions: %s %r %a %d %i %u %x %X %o %c %f %F %e %E %g %G and %%, with the
// flags '-', '+', ' ', '0', a width, a precision, and %(name)s keys into a dict. Not
// supported (an error naming it): the '#' flag and '*' widths.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/text/jinja/value.h"

namespace loom::jinja {

// `format % args`: a tuple gives positional arguments, a dict named ones, anything else
// is the single argument. Errors: InvalidArgument with Python's TypeError/ValueError
// message (e.g. "not enough arguments for format string"); ResourceExhausted when the
// result would exceed `max_bytes`.
absl::StatusOr<std::string> PercentFormat(std::string_view format, const Value& args,
                                          size_t max_bytes);

}  // namespace loom::jinja
