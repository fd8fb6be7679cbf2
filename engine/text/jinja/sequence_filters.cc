#include "engine/text/jinja/sequence_filters.h"

#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/text/jinja/access.h"
#include "engine/text/jinja/args.h"
#include "engine/text/jinja/filters.h"
#include "engine/text/jinja/operators.h"
#include "engine/text/jinja/predicates.h"
#include "engine/text/jinja/py_string.h"

namespace loom::jinja {
namespace {

constexpr std::string_view kSequenceFilters[] = {
    "length", "count",      "first",      "last",  "list",    "join", "reverse",
    "sort",   "unique",     "min",        "max",   "sum",     "map",  "select",
    "reject", "selectattr", "rejectattr", "items", "dictsort"};

absl::StatusOr<std::vector<std::optional<Value>>> Bind(std::string_view name, const CallArgs& args,
                                                       std::initializer_list<std::string_view> p) {
  return BindArgs(absl::StrCat("filter '", std::string(name), "'"), args, p);
}

absl::StatusOr<std::vector<Value>> Walk(const Value& operand, Budget& budget) {
  auto items = Iterate(operand);
  if (!items.ok()) return items.status();
  if (absl::Status s = budget.Charge(static_cast<int64_t>(items->size())); !s.ok()) return s;
  return items;
}

// jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0, by subscription.
absl::StatusOr<Value> GetPath(const Value& item, const Value& attribute) {
  if (attribute.is_integral()) return GetItem(item, attribute);
  if (!attribute.is_string()) {
    return absl::InvalidArgumentError("attribute must be a str or an int");
  }
  Value current = item;
  for (absl::string_view part : absl::StrSplit(attribute.AsString(), '.')) {
    const bool digits = !part.empty() && part.find_first_not_of("0123456789") == part.npos;
    Value key = Value::String(std::string(part));
    if (digits) {
      if (std::optional<int64_t> i = ParsePyInt(std::string(part), 10)) key = Value::Int(*i);
    }
    auto next = GetItem(current, key);
    if (!next.ok()) return next.status();
    current = *std::move(next);
  }
  return current;
}

Value IgnoreCase(const Value& v) {
  return v.is_string() ? Value::String(PyLower(v.AsString())) : v;
}

// A key function: the item itself or an attribute path, lowered unless case-sensitive.
using KeyFn = std::function<absl::StatusOr<Value>(const Value&)>;
KeyFn MakeKey(const std::optional<Value>& attribute, bool case_sensitive) {
  return [attribute, case_sensitive](const Value& item) -> absl::StatusOr<Value> {
    Value key = item;
    if (attribute.has_value() && !attribute->is_none()) {
      auto v = GetPath(item, *attribute);
      if (!v.ok()) return v.status();
      key = *std::move(v);
    }
    return case_sensitive ? key : IgnoreCase(key);
  };
}

// A stable merge sort that tolerates any comparison outcome (including errors and NaN):
// std::sort's requirements cannot be met for values a template supplies.
absl::Status MergeSort(std::vector<std::pair<Value, Value>>* items, bool reverse) {
  std::vector<std::pair<Value, Value>> buffer(items->size());
  for (size_t width = 1; width < items->size(); width *= 2) {
    for (size_t lo = 0; lo < items->size(); lo += 2 * width) {
      const size_t mid = std::min(lo + width, items->size());
      const size_t hi = std::min(lo + 2 * width, items->size());
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        // Take from the right only when it is strictly before the left.
        auto c = reverse ? PyCompare((*items)[i].first, (*items)[j].first)
                         : PyCompare((*items)[j].first, (*items)[i].first);
        if (!c.ok()) return c.status();
        buffer[k++] = std::move(*c == -1 ? (*items)[j++] : (*items)[i++]);
      }
      while (i < mid) buffer[k++] = std::move((*items)[i++]);
      while (j < hi) buffer[k++] = std::move((*items)[j++]);
    }
    items->swap(buffer);
  }
  return absl::OkStatus();
}

absl::StatusOr<Value> Sort(const Value& operand, const CallArgs& args, Budget& budget) {
  auto bound = Bind("sort", args, {"reverse", "case_sensitive", "attribute"});
  if (!bound.ok()) return bound.status();
  auto items = Walk(operand, budget);
  if (!items.ok()) return items.status();
  const bool reverse = ArgOr((*bound)[0], Value::Bool(false)).Truthy();
  const bool case_sensitive = ArgOr((*bound)[1], Value::Bool(false)).Truthy();
  KeyFn key = MakeKey((*bound)[2], case_sensitive);
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& item : *items) {
    auto k = key(item);
    if (!k.ok()) return k.status();
    keyed.emplace_back(*std::move(k), item);
  }
  if (absl::Status s = budget.Charge(static_cast<int64_t>(keyed.size()) * 20); !s.ok()) return s;
  if (absl::Status s = MergeSort(&keyed, reverse); !s.ok()) return s;
  std::vector<Value> out;
  for (auto& [k, item] : keyed) out.push_back(std::move(item));
  return Value::List(std::move(out));
}

absl::StatusOr<Value> DictSort(const Value& operand, const CallArgs& args, Budget& budget) {
  auto bound = Bind("dictsort", args, {"case_sensitive", "by", "reverse"});
  if (!bound.ok()) return bound.status();
  if (!operand.is_dict()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", TypeName(operand), "' object has no attribute 'items'"));
  }
  const bool case_sensitive = ArgOr((*bound)[0], Value::Bool(false)).Truthy();
  const Value by = ArgOr((*bound)[1], Value::String("key"));
  const bool reverse = ArgOr((*bound)[2], Value::Bool(false)).Truthy();
  if (!by.is_string() || (by.AsString() != "key" && by.AsString() != "value")) {
    return absl::InvalidArgumentError("You can only sort by either \"key\" or \"value\"");
  }
  const auto& entries = operand.AsDict().items;
  if (absl::Status s = budget.Charge(static_cast<int64_t>(entries.size()) * 20); !s.ok()) return s;
  std::vector<std::pair<Value, Value>> keyed;
  for (const auto& [k, v] : entries) {
    Value sort_key = by.AsString() == "key" ? Value::String(k) : v;
    auto pair = Value::List({Value::String(k), v}, SeqKind::kTuple);
    if (!pair.ok()) return pair.status();
    keyed.emplace_back(case_sensitive ? sort_key : IgnoreCase(sort_key), *std::move(pair));
  }
  if (absl::Status s = MergeSort(&keyed, reverse); !s.ok()) return s;
  std::vector<Value> out;
  for (auto& [k, item] : keyed) out.push_back(std::move(item));
  return Value::List(std::move(out));
}

absl::StatusOr<Value> MinMax(std::string_view name, const Value& operand, const CallArgs& args,
                             Budget& budget) {
  auto bound = Bind(name, args, {"case_sensitive", "attribute"});
  if (!bound.ok()) return bound.status();
  auto items = Walk(operand, budget);
  if (!items.ok()) return items.status();
  if (items->empty()) return Value::MakeUndefined("No aggregated item, sequence was empty.");
  KeyFn key = MakeKey((*bound)[1], ArgOr((*bound)[0], Value::Bool(false)).Truthy());
  size_t best = 0;
  auto best_key = key((*items)[0]);
  if (!best_key.ok()) return best_key.status();
  for (size_t i = 1; i < items->size(); ++i) {
    auto k = key((*items)[i]);
    if (!k.ok()) return k.status();
    auto c = PyCompare(*k, *best_key);
    if (!c.ok()) return c.status();
    if (*c == (name == "min" ? -1 : 1)) {
      best = i;
      best_key = *std::move(k);
    }
  }
  return (*items)[best];
}

absl::StatusOr<Value> Unique(const Value& operand, const CallArgs& args, Budget& budget) {
  auto bound = Bind("unique", args, {"case_sensitive", "attribute"});
  if (!bound.ok()) return bound.status();
  auto items = Walk(operand, budget);
  if (!items.ok()) return items.status();
  KeyFn key = MakeKey((*bound)[1], ArgOr((*bound)[0], Value::Bool(false)).Truthy());
  std::vector<Value> seen, out;
  for (const Value& item : *items) {
    auto k = key(item);
    if (!k.ok()) return k.status();
    if (absl::Status s = budget.Charge(static_cast<int64_t>(seen.size())); !s.ok()) return s;
    bool found = false;
    for (const Value& s : seen) found = found || PyEquals(s, *k);
    if (found) continue;
    seen.push_back(*std::move(k));
    out.push_back(item);
  }
  return Value::List(std::move(out), SeqKind::kGenerator);
}

absl::StatusOr<Value> Join(const Value& operand, const CallArgs& args, Budget& budget) {
  auto bound = Bind("join", args, {"d", "attribute"});
  if (!bound.ok()) return bound.status();
  auto items = Walk(operand, budget);
  if (!items.ok()) return items.status();
  const size_t max_bytes = budget.limits().max_output_bytes;
  const std::string separator = ToPyStr(ArgOr((*bound)[0], Value::String("")), max_bytes);
  std::string out;
  for (size_t i = 0; i < items->size(); ++i) {
    Value item = (*items)[i];
    if ((*bound)[1].has_value() && !(*bound)[1]->is_none()) {
      auto v = GetPath(item, *(*bound)[1]);
      if (!v.ok()) return v.status();
      item = *std::move(v);
    }
    if (i > 0) out += separator;
    out += ToPyStr(item, max_bytes);
    if (absl::Status s = budget.CheckStringSize(out.size()); !s.ok()) return s;
  }
  return Value::String(std::move(out));
}

absl::StatusOr<Value> Sum(const Value& operand, const CallArgs& args, Budget& budget) {
  auto bound = Bind("sum", args, {"attribute", "start"});
  if (!bound.ok()) return bound.status();
  auto items = Walk(operand, budget);
  if (!items.ok()) return items.status();
  Value total = ArgOr((*bound)[1], Value::Int(0));
  for (const Value& raw : *items) {
    Value item = raw;
    if ((*bound)[0].has_value() && !(*bound)[0]->is_none()) {
      auto v = GetPath(raw, *(*bound)[0]);
      if (!v.ok()) return v.status();
      item = *std::move(v);
    }
    if (total.is_string() || item.is_string()) {
      return absl::InvalidArgumentError("sum() can't sum strings");
    }
    auto next = BinaryOp("+", total, item, budget);
    if (!next.ok()) return next.status();
    total = *std::move(next);
  }
  return total;
}

// map(attribute=..., default=...) or map('filter', args...).
absl::StatusOr<Value> Map(const Value& operand, const CallArgs& args, Budget& budget) {
  if (!operand.Truthy()) return Value::List({}, SeqKind::kGenerator);
  auto items = Walk(operand, budget);
  if (!items.ok()) return items.status();
  std::vector<Value> out;
  if (args.positional.empty()) {
    auto bound = Bind("map", args, {"attribute", "default"});
    if (!bound.ok()) return bound.status();
    if (!(*bound)[0].has_value())
      return absl::InvalidArgumentError("map requires a filter argument");
    for (const Value& item : *items) {
      auto v = GetPath(item, *(*bound)[0]);
      if (!v.ok()) return v.status();
      out.push_back(v->is_undefined() && (*bound)[1].has_value() ? *(*bound)[1] : *std::move(v));
    }
    return Value::List(std::move(out), SeqKind::kGenerator);
  }
  if (!args.positional[0].is_string() || !IsKnownFilter(args.positional[0].AsString())) {
    return absl::InvalidArgumentError(
        absl::StrCat("map: unsupported filter ", ToPyRepr(args.positional[0], 64)));
  }
  const std::string filter = args.positional[0].AsString();
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Value& item : *items) {
    auto v = ApplyFilter(filter, item, rest, budget);
    if (!v.ok()) return v.status();
    out.push_back(*std::move(v));
  }
  return Value::List(std::move(out), SeqKind::kGenerator);
}

// select/reject(test, args...) and selectattr/rejectattr(attribute, test, args...).
absl::StatusOr<Value> Select(std::string_view name, const Value& operand, const CallArgs& args,
                             Budget& budget) {
  const bool by_attribute = name == "selectattr" || name == "rejectattr";
  const bool keep_when = name == "select" || name == "selectattr";
  if (!operand.Truthy()) return Value::List({}, SeqKind::kGenerator);
  auto items = Walk(operand, budget);
  if (!items.ok()) return items.status();
  size_t next = 0;
  std::optional<Value> attribute;
  if (by_attribute) {
    if (args.positional.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("Missing parameter for attribute name"));
    }
    attribute = args.positional[next++];
  }
  std::optional<std::string> test;
  if (next < args.positional.size()) {
    const Value& t = args.positional[next++];
    if (!t.is_string() || !IsKnownTest(t.AsString())) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(name), ": unsupported test ", ToPyRepr(t, 64)));
    }
    test = t.AsString();
  }
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<ptrdiff_t>(next),
                              args.positional.end());
  test_args.keyword = args.keyword;
  std::vector<Value> out;
  for (const Value& item : *items) {
    Value subject = item;
    if (attribute.has_value()) {
      auto v = GetPath(item, *attribute);
      if (!v.ok()) return v.status();
      subject = *std::move(v);
    }
    bool pass = subject.Truthy();
    if (test.has_value()) {
      auto r = ApplyTest(*test, subject, test_args);
      if (!r.ok()) return r.status();
      pass = *r;
    }
    if (pass == keep_when) out.push_back(item);
  }
  return Value::List(std::move(out), SeqKind::kGenerator);
}

absl::StatusOr<Value> FirstOrLast(std::string_view name, const Value& operand, const CallArgs& args,
                                  Budget& budget) {
  if (absl::Status s = Bind(name, args, {}).status(); !s.ok()) return s;
  if (name == "last" && operand.is_list() && operand.AsList().is_iterator()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", TypeName(operand), "' object is not reversible"));
  }
  if (operand.is_list() && !operand.AsList().items.empty()) {
    return name == "first" ? operand.AsList().items.front() : operand.AsList().items.back();
  }
  auto items = Walk(operand, budget);
  if (!items.ok()) return items.status();
  if (items->empty()) {
    return Value::MakeUndefined(name == "first" ? "No first item, sequence was empty."
                                                : "No last item, sequence was empty.");
  }
  return name == "first" ? items->front() : items->back();
}

}  // namespace

bool IsSequenceFilter(std::string_view name) {
  return std::find(std::begin(kSequenceFilters), std::end(kSequenceFilters), name) !=
         std::end(kSequenceFilters);
}

absl::StatusOr<Value> ApplySequenceFilter(std::string_view name, const Value& operand,
                                          const CallArgs& args, Budget& budget) {
  if (name == "length" || name == "count") {
    if (absl::Status s = Bind(name, args, {}).status(); !s.ok()) return s;
    auto n = PyLen(operand);
    if (!n.ok()) return n.status();
    return Value::Int(*n);
  }
  if (name == "first" || name == "last") return FirstOrLast(name, operand, args, budget);
  if (name == "join") return Join(operand, args, budget);
  if (name == "sort") return Sort(operand, args, budget);
  if (name == "dictsort") return DictSort(operand, args, budget);
  if (name == "unique") return Unique(operand, args, budget);
  if (name == "min" || name == "max") return MinMax(name, operand, args, budget);
  if (name == "sum") return Sum(operand, args, budget);
  if (name == "map") return Map(operand, args, budget);
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    return Select(name, operand, args, budget);
  }
  if (absl::Status s = Bind(name, args, {}).status(); !s.ok()) return s;
  if (name == "items") {
    if (operand.is_undefined()) return Value::List({}, SeqKind::kGenerator);
    if (!operand.is_dict()) {
      return absl::InvalidArgumentError("Can only get item pairs from a mapping.");
    }
    std::vector<Value> out;
    for (const auto& [k, v] : operand.AsDict().items) {
      auto pair = Value::List({Value::String(k), v}, SeqKind::kTuple);
      if (!pair.ok()) return pair.status();
      out.push_back(*std::move(pair));
    }
    return Value::List(std::move(out), SeqKind::kGenerator);
  }
  if (name == "reverse" && operand.is_string()) {
    std::u32string cps = ToCodePoints(operand.AsString());
    std::reverse(cps.begin(), cps.end());
    return Value::String(FromCodePoints(cps));
  }
  auto items = Walk(operand, budget);
  if (!items.ok()) return items.status();
  if (name == "list") return Value::List(*std::move(items));
  // reverse: reversed() of a sequence, dict or view is an iterator; a generator is not
  // reversible, so jinja2 falls back to a reversed list.
  std::reverse(items->begin(), items->end());
  const bool iterator = !(operand.is_list() && operand.AsList().is_iterator());
  return Value::List(*std::move(items), iterator ? SeqKind::kReverseIterator : SeqKind::kList);
}

}  // namespace loom::jinja
