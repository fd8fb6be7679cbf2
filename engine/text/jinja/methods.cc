#include "engine/text/jinja/methods.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/text/jinja/args.h"
#include "engine/text/jinja/budget.h"
#include "engine/text/jinja/interpreter.h"
#include "engine/text/jinja/py_string.h"

namespace loom::jinja {
namespace {

constexpr std::string_view kStringMethods[] = {
    "strip",   "lstrip", "rstrip", "split", "rsplit",     "splitlines", "startswith", "endswith",
    "replace", "upper",  "lower",  "title", "capitalize", "find",       "count",      "join"};
constexpr std::string_view kDictMethods[] = {"items", "keys", "values", "get"};
constexpr std::string_view kListMethods[] = {"index", "count"};
// Mutators the immutable sandbox refuses.
constexpr std::string_view kUnsafeListMethods[] = {"append", "clear", "pop",    "reverse",
                                                   "insert", "sort",  "extend", "remove"};
constexpr std::string_view kUnsafeDictMethods[] = {"clear", "pop", "popitem", "setdefault",
                                                   "update"};
// Python methods that exist but are not implemented here.
constexpr std::string_view kUnsupportedStringMethods[] = {
    "format",       "format_map",  "center",   "ljust",        "rjust",        "zfill",
    "partition",    "rpartition",  "casefold", "swapcase",     "expandtabs",   "encode",
    "index",        "rindex",      "rfind",    "isdigit",      "isalpha",      "isalnum",
    "isspace",      "islower",     "isupper",  "istitle",      "isnumeric",    "isdecimal",
    "isidentifier", "isprintable", "isascii",  "removeprefix", "removesuffix", "translate",
    "maketrans"};
constexpr std::string_view kUnsupportedDictMethods[] = {"copy", "fromkeys"};

template <size_t N>
bool In(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

absl::Status TypeError(std::string message) {
  return absl::InvalidArgumentError(std::move(message));
}

// An optional string argument: None/absent -> nullopt.
absl::StatusOr<std::optional<std::string>> OptionalString(const std::optional<Value>& arg,
                                                          std::string_view what) {
  if (!arg.has_value() || arg->is_none()) return std::optional<std::string>();
  if (!arg->is_string()) {
    return TypeError(
        absl::StrCat(std::string(what), " arg must be None or str, not ", TypeName(*arg)));
  }
  return std::optional<std::string>(arg->AsString());
}

absl::StatusOr<int64_t> OptionalInt(const std::optional<Value>& arg, int64_t fallback,
                                    std::string_view what) {
  if (!arg.has_value()) return fallback;
  if (!arg->is_integral()) {
    return TypeError(absl::StrCat("'", TypeName(*arg),
                                  "' object cannot be interpreted as an "
                                  "integer in ",
                                  std::string(what)));
  }
  return arg->AsInt();
}

absl::StatusOr<Value> StartsOrEndsWith(const std::string& s, const CallArgs& args, bool ends) {
  const std::string what = ends ? "endswith" : "startswith";
  auto bound = BindArgs(what, args, {"prefix", "start", "end"});
  if (!bound.ok()) return bound.status();
  if (!(*bound)[0].has_value()) return TypeError(what + "() takes at least 1 argument (0 given)");
  std::u32string cps = ToCodePoints(s);
  const auto len = static_cast<int64_t>(cps.size());
  auto clamp = [len](int64_t i) {
    if (i < 0) i += len;
    return std::clamp<int64_t>(i, 0, len);
  };
  int64_t start = 0, end = len;
  if ((*bound)[1].has_value() && !(*bound)[1]->is_none()) {
    if (!(*bound)[1]->is_integral()) return TypeError("slice indices must be integers or None");
    start = clamp((*bound)[1]->AsInt());
  }
  if ((*bound)[2].has_value() && !(*bound)[2]->is_none()) {
    if (!(*bound)[2]->is_integral()) return TypeError("slice indices must be integers or None");
    end = clamp((*bound)[2]->AsInt());
  }
  std::string window = start < end
                           ? FromCodePoints(std::u32string_view(cps).substr(
                                 static_cast<size_t>(start), static_cast<size_t>(end - start)))
                           : std::string();
  if (start > len) return Value::Bool(false);
  std::vector<Value> candidates;
  const Value& prefix = *(*bound)[0];
  if (prefix.is_string()) {
    candidates.push_back(prefix);
  } else if (prefix.is_list() && prefix.AsList().is_tuple()) {
    candidates = prefix.AsList().items;
  } else {
    return TypeError(
        absl::StrCat(what, " first arg must be str or a tuple of str, not ", TypeName(prefix)));
  }
  for (const Value& c : candidates) {
    if (!c.is_string()) {
      return TypeError(
          absl::StrCat("tuple for ", what, " must only contain str, not ", TypeName(c)));
    }
    const std::string& p = c.AsString();
    const bool hit = ends ? (window.size() >= p.size() &&
                             window.compare(window.size() - p.size(), p.size(), p) == 0)
                          : window.compare(0, p.size(), p) == 0;
    if (hit) return Value::Bool(true);
  }
  return Value::Bool(false);
}

absl::StatusOr<Value> StringsToList(std::vector<std::string> parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (auto& part : parts) items.push_back(Value::String(std::move(part)));
  return Value::List(std::move(items));
}

absl::StatusOr<Value> CallStringMethod(const std::string& s, std::string_view name,
                                       const CallArgs& args, Budget& budget) {
  const std::string what = absl::StrCat("str.", std::string(name), "()");
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    auto bound = BindArgs(what, args, {"chars"});
    if (!bound.ok()) return bound.status();
    auto chars = OptionalString((*bound)[0], name);
    if (!chars.ok()) return chars.status();
    const StripSide side = name == "strip"    ? StripSide::kBoth
                           : name == "lstrip" ? StripSide::kLeft
                                              : StripSide::kRight;
    return Value::String(PyStrip(s, *chars, side));
  }
  if (name == "split" || name == "rsplit") {
    auto bound = BindArgs(what, args, {"sep", "maxsplit"});
    if (!bound.ok()) return bound.status();
    auto sep = OptionalString((*bound)[0], "separator");
    if (!sep.ok()) return sep.status();
    if (sep->has_value() && (*sep)->empty()) return TypeError("empty separator");
    auto maxsplit = OptionalInt((*bound)[1], -1, what);
    if (!maxsplit.ok()) return maxsplit.status();
    return StringsToList(PySplit(s, *sep, *maxsplit, name == "rsplit"));
  }
  if (name == "splitlines") {
    auto bound = BindArgs(what, args, {"keepends"});
    if (!bound.ok()) return bound.status();
    if ((*bound)[0].has_value() && (*bound)[0]->Truthy()) {
      return absl::InvalidArgumentError("unsupported: str.splitlines(keepends=True)");
    }
    return StringsToList(PySplitLines(s));
  }
  if (name == "startswith" || name == "endswith") {
    return StartsOrEndsWith(s, args, name == "endswith");
  }
  if (name == "replace") {
    auto bound = BindArgs(what, args, {"old", "new", "count"});
    if (!bound.ok()) return bound.status();
    if (!(*bound)[0].has_value() || !(*bound)[1].has_value() || !(*bound)[0]->is_string() ||
        !(*bound)[1]->is_string()) {
      return TypeError("str.replace() takes two str arguments");
    }
    auto count = OptionalInt((*bound)[2], -1, what);
    if (!count.ok()) return count.status();
    const std::string& old_text = (*bound)[0]->AsString();
    const std::string& new_text = (*bound)[1]->AsString();
    int64_t hits = PyCount(s, old_text);
    if (*count >= 0) hits = std::min(hits, *count);
    if (absl::Status st =
            budget.CheckStringSize(s.size() + static_cast<size_t>(hits) * new_text.size());
        !st.ok()) {
      return st;
    }
    return Value::String(PyReplace(s, old_text, new_text, *count));
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") {
    auto bound = BindArgs(what, args, {});
    if (!bound.ok()) return bound.status();
    if (name == "upper") return Value::String(PyUpper(s));
    if (name == "lower") return Value::String(PyLower(s));
    if (name == "title") return Value::String(PyTitleMethod(s));
    return Value::String(PyCapitalize(s));
  }
  if (name == "find" || name == "count") {
    auto bound = BindArgs(what, args, {"sub"});
    if (!bound.ok()) return bound.status();
    if (!(*bound)[0].has_value() || !(*bound)[0]->is_string()) {
      return TypeError(absl::StrCat(what, " takes a str argument"));
    }
    const std::string& sub = (*bound)[0]->AsString();
    return Value::Int(name == "find" ? PyFind(s, sub) : PyCount(s, sub));
  }
  // join
  auto bound = BindArgs(what, args, {"iterable"});
  if (!bound.ok()) return bound.status();
  if (!(*bound)[0].has_value()) return TypeError("str.join() takes exactly one argument");
  auto items = Iterate(*(*bound)[0]);
  if (!items.ok()) return items.status();
  std::string out;
  for (size_t i = 0; i < items->size(); ++i) {
    const Value& item = (*items)[i];
    if (!item.is_string()) {
      return TypeError(
          absl::StrCat("sequence item ", i, ": expected str instance, ", TypeName(item), " found"));
    }
    if (i > 0) out += s;
    out += item.AsString();
    if (absl::Status st = budget.CheckStringSize(out.size()); !st.ok()) return st;
  }
  return Value::String(std::move(out));
}

absl::StatusOr<Value> CallDictMethod(const DictData& dict, std::string_view name,
                                     const CallArgs& args) {
  const std::string what = absl::StrCat("dict.", std::string(name), "()");
  if (name == "get") {
    auto bound = BindArgs(what, args, {"key", "default"});
    if (!bound.ok()) return bound.status();
    if (!(*bound)[0].has_value()) return TypeError("get expected at least 1 argument, got 0");
    const Value& key = *(*bound)[0];
    if (key.is_string()) {
      if (const Value* v = dict.Find(key.AsString())) return *v;
    }
    return ArgOr((*bound)[1], Value::MakeNone());
  }
  auto bound = BindArgs(what, args, {});
  if (!bound.ok()) return bound.status();
  std::vector<Value> items;
  items.reserve(dict.items.size());
  for (const auto& [key, value] : dict.items) {
    if (name == "keys") {
      items.push_back(Value::String(key));
    } else if (name == "values") {
      items.push_back(value);
    } else {
      auto pair = Value::List({Value::String(key), value}, SeqKind::kTuple);
      if (!pair.ok()) return pair.status();
      items.push_back(*std::move(pair));
    }
  }
  return Value::List(std::move(items), name == "keys"     ? SeqKind::kDictKeys
                                       : name == "values" ? SeqKind::kDictValues
                                                          : SeqKind::kDictItems);
}

absl::StatusOr<Value> CallListMethod(const ListData& list, std::string_view name,
                                     const CallArgs& args) {
  const std::string what =
      absl::StrCat(list.is_tuple() ? "tuple." : "list.", std::string(name), "()");
  auto bound = BindArgs(what, args, {"value"});
  if (!bound.ok()) return bound.status();
  if (!(*bound)[0].has_value()) return TypeError(absl::StrCat(what, " takes exactly one argument"));
  int64_t count = 0;
  for (size_t i = 0; i < list.items.size(); ++i) {
    if (!PyEquals(list.items[i], *(*bound)[0])) continue;
    if (name == "index") return Value::Int(static_cast<int64_t>(i));
    ++count;
  }
  if (name == "index") return absl::InvalidArgumentError(absl::StrCat(what, ": x not in list"));
  return Value::Int(count);
}

class BoundMethod : public Callable {
 public:
  BoundMethod(Value receiver, std::string name)
      : receiver_(std::move(receiver)), name_(std::move(name)) {}

  std::string Name() const override {
    return absl::StrCat("built-in method ", name_, " of ", TypeName(receiver_), " object");
  }

  absl::StatusOr<Value> Call(Interpreter& interpreter, CallArgs args) const override {
    Budget& budget = interpreter.budget();
    absl::Status charged =
        receiver_.is_string() ? budget.ChargeBytes(receiver_.AsString().size())
        : receiver_.is_list() ? budget.ChargeItems(receiver_.AsList().items.size())
        : receiver_.is_dict() ? budget.ChargeItems(receiver_.AsDict().items.size())
                              : absl::OkStatus();
    if (!charged.ok()) return charged;
    switch (receiver_.kind()) {
      case Value::Kind::kString:
        return CallStringMethod(receiver_.AsString(), name_, args, budget);
      case Value::Kind::kDict:
        return CallDictMethod(receiver_.AsDict(), name_, args);
      case Value::Kind::kList:
        return CallListMethod(receiver_.AsList(), name_, args);
      default:
        return absl::InternalError("method bound to a value without methods");
    }
  }

 private:
  Value receiver_;
  std::string name_;
};

Value Bind(const Value& receiver, std::string_view name) {
  return Value::Function(std::make_shared<BoundMethod>(receiver, std::string(name)));
}

Value Unsafe(const Value& receiver, std::string_view name) {
  return Value::MakeUndefined(absl::StrCat("access to attribute '", std::string(name), "' of '",
                                           TypeName(receiver), "' object is unsafe."));
}

Value Unsupported(const Value& receiver, std::string_view name) {
  return Value::MakeUndefined(
      absl::StrCat("unsupported method '", TypeName(receiver), ".", std::string(name), "'"));
}

}  // namespace

std::optional<Value> LookupMethod(const Value& receiver, std::string_view name) {
  switch (receiver.kind()) {
    case Value::Kind::kString:
      if (In(kStringMethods, name)) return Bind(receiver, name);
      if (In(kUnsupportedStringMethods, name)) return Unsupported(receiver, name);
      return std::nullopt;
    case Value::Kind::kDict:
      if (In(kDictMethods, name)) return Bind(receiver, name);
      if (In(kUnsafeDictMethods, name)) return Unsafe(receiver, name);
      if (In(kUnsupportedDictMethods, name)) return Unsupported(receiver, name);
      return std::nullopt;
    case Value::Kind::kList:
      if (!receiver.AsList().is_sequence()) return std::nullopt;
      if (In(kListMethods, name)) return Bind(receiver, name);
      if (!receiver.AsList().is_tuple() && In(kUnsafeListMethods, name)) {
        return Unsafe(receiver, name);
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace loom::jinja
