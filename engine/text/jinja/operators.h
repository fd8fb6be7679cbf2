// Python's binary and unary operators on template values: + - * / // % ** ~ and unary -.
//
// Integers are int64: a result that Python would grow into a bignum is an error
// ("integer overflow") instead. String and list results are checked against the
// budget before they are built, so `'x' * 10**9` fails without allocating.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "engine/text/jinja/budget.h"
#include "engine/text/jinja/value.h"

namespace loom::jinja {

// `op` is one of + - * / // % ** ~. Errors: InvalidArgument for unsupported operand types
// (TypeError), division by zero, overflow, and Undefined operands (UndefinedError) except
// with ~, where Undefined is ""; ResourceExhausted when a string or list result is over
// the budget.
absl::StatusOr<Value> BinaryOp(std::string_view op, const Value& a, const Value& b, Budget& budget);

// `op` is "-" or "+". Errors: InvalidArgument for non-numbers and INT64_MIN negation.
absl::StatusOr<Value> UnaryOp(std::string_view op, const Value& a);

}  // namespace loom::jinja
