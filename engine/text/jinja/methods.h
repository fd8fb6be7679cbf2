// Python methods of str, dict and list that templates call (`s.strip()`, `d.items()`).
//
// Supported: str.strip/lstrip/rstrip/split/rsplit/splitlines/startswith/endswith/replace/
// upper/lower/title/capitalize/find/count/join; dict.items/keys/values/get;
// list.index/count. The mutating methods (list.append, dict.update, ...) behave as under
// transformers' ImmutableSandboxedEnvironment: the attribute is an Undefined whose use
// fails with "access to attribute 'append' of 'list' object is unsafe.".
#pragma once

#include <optional>
#include <string_view>

#include "engine/text/jinja/value.h"

namespace loom::jinja {

// The method `name` of `receiver` bound to it (a callable Value), an Undefined for
// unsafe or unsupported methods, or nullopt when the type has no method of that name.
std::optional<Value> LookupMethod(const Value& receiver, std::string_view name);

}  // namespace loom::jinja
