// Jinja filters: the `name` in `x | name(args)`.
//
// Supported (each as jinja2 3.x defines it, with transformers' tojson):
//   strings:    trim, upper, lower, capitalize, title, replace, string, safe, escape/e,
//               indent, format (printf-style, see percent_format.h), tojson
//   sequences:  length/count, first, last, list, join, reverse, sort, unique, min, max,
//               sum, map, select, reject, selectattr, rejectattr, items, dictsort
//   numbers:    int, float, abs, round
//   other:      default/d, attr
// Everything else jinja2 has (wordwrap, truncate, format, groupby, ...) is rejected when
// the template is parsed, naming the filter and the line.
// map, select, reject, selectattr, rejectattr, unique and items return generators, as in
// jinja2 (always true, no len(), print as "<generator object>"), but eager ones: an
// operand that is not iterable fails at once rather than when the generator is consumed.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "engine/text/jinja/budget.h"
#include "engine/text/jinja/value.h"

namespace loom::jinja {

bool IsKnownFilter(std::string_view name);

// REQUIRES: IsKnownFilter(name). Errors: InvalidArgument for bad arguments or operand
// types, UndefinedError where jinja2 raises one; ResourceExhausted when the result or
// the work is over `budget`.
absl::StatusOr<Value> ApplyFilter(std::string_view name, const Value& operand, const CallArgs& args,
                                  Budget& budget);

}  // namespace loom::jinja
