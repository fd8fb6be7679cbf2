// The global functions templates may call: range, namespace, dict, raise_exception
// (transformers' way for a template to reject a conversation) and strftime_now (also
// transformers'). range is capped at 100000 items, as in jinja2's sandbox.
#pragma once

#include <optional>
#include <string_view>

#include "engine/text/jinja/value.h"

namespace loom::jinja {

// The builtin named `name` as a callable Value, or nullopt.
std::optional<Value> LookupBuiltin(std::string_view name);

}  // namespace loom::jinja
