// The filters that walk a sequence (length, join, map, select, sort, ...); see filters.h
// for the list and the contract. Every item walked costs one step of the budget.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "engine/text/jinja/budget.h"
#include "engine/text/jinja/value.h"

namespace loom::jinja {

bool IsSequenceFilter(std::string_view name);

// REQUIRES: IsSequenceFilter(name).
absl::StatusOr<Value> ApplySequenceFilter(std::string_view name, const Value& operand,
                                          const CallArgs& args, Budget& budget);

}  // namespace loom::jinja
