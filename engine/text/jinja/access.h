// Attribute, item and slice access: `x.name`, `x[key]`, `x[a:b:c]`, as jinja2 does them.
//
// jinja2 tries a Python attribute first for `x.name` and an item first for `x[key]`,
// falling back to the other; what neither finds is an Undefined naming the object and
// the key ("'dict object' has no attribute 'foo'"). Only access on an Undefined itself
// fails (UndefinedError), as with jinja2's default Undefined.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "engine/text/jinja/value.h"

namespace loom::jinja {

// x.name: dict methods then keys, namespace and loop attributes, str/list methods.
// Errors: InvalidArgument (UndefinedError) when `obj` is Undefined.
absl::StatusOr<Value> GetAttr(const Value& obj, std::string_view name);

// x[key]: dict keys, list/tuple/str indexes (negative from the end), then attributes.
// Errors: InvalidArgument (UndefinedError) when `obj` is Undefined.
absl::StatusOr<Value> GetItem(const Value& obj, const Value& key);

// x[start:stop:step] on lists, tuples and strings, with Python's index clamping; each
// bound may be Undefined or None for "absent". Errors: InvalidArgument for non-integer
// bounds, a zero step, Undefined or unsliceable `obj`.
absl::StatusOr<Value> GetSlice(const Value& obj, const Value& start, const Value& stop,
                               const Value& step);

}  // namespace loom::jinja
