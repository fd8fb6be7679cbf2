#include "engine/text/jinja/predicates.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/text/jinja/args.h"
#include "engine/text/jinja/py_string.h"

namespace loom::jinja {
namespace {

constexpr std::string_view kTests[] = {
    "defined",     "undefined", "none",        "boolean", "true",     "false",    "integer",
    "float",       "number",    "string",      "mapping", "iterable", "sequence", "callable",
    "odd",         "even",      "divisibleby", "eq",      "equalto",  "==",       "ne",
    "!=",          "lt",        "lessthan",    "<",       "le",       "<=",       "gt",
    "greaterthan", ">",         "ge",          ">=",      "in",       "sameas",   "lower",
    "upper",       "escaped"};

absl::StatusOr<Value> OneArg(std::string_view name, const CallArgs& args) {
  auto bound = BindArgs(absl::StrCat("test '", std::string(name), "'"), args, {"other"});
  if (!bound.ok()) return bound.status();
  if (!(*bound)[0].has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("test '", std::string(name), "' needs an argument"));
  }
  return *(*bound)[0];
}

absl::Status NoArgs(std::string_view name, const CallArgs& args) {
  return BindArgs(absl::StrCat("test '", std::string(name), "'"), args, {}).status();
}

// Python's `v % divisor` (the sign of the divisor) for ints and floats.
absl::StatusOr<double> PyModulo(const Value& v, const Value& divisor, std::string_view name) {
  if (!v.is_number() || !divisor.is_number()) {
    return absl::InvalidArgumentError(absl::StrCat("test '", std::string(name),
                                                   "': unsupported operand type(s) for %: '",
                                                   TypeName(v), "' and '", TypeName(divisor), "'"));
  }
  if (v.is_integral() && divisor.is_integral()) {
    const int64_t a = v.AsInt(), b = divisor.AsInt();
    if (b == 0) return absl::InvalidArgumentError("integer modulo by zero");
    if (b == -1) return 0.0;
    int64_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return static_cast<double>(r);
  }
  const double a = v.AsDouble(), b = divisor.AsDouble();
  if (b == 0.0) return absl::InvalidArgumentError("float modulo");
  double r = std::fmod(a, b);
  if (r != 0.0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

bool AllCasedAre(const std::string& s, bool upper) {
  // str.islower()/isupper(): at least one cased character and no cased character of the
  // other case; a character is cased when lower() or upper() changes it.
  bool any = false;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t begin = pos;
    DecodeCodePoint(s, &pos);
    const std::string one = s.substr(begin, pos - begin);
    const std::string lowered = PyLower(one), uppered = PyUpper(one);
    if (lowered == uppered) continue;
    any = true;
    if (upper ? one != uppered : one != lowered) return false;
  }
  return any;
}

}  // namespace

bool IsKnownTest(std::string_view name) {
  return std::find(std::begin(kTests), std::end(kTests), name) != std::end(kTests);
}

absl::StatusOr<bool> PyContains(const Value& haystack, const Value& needle) {
  switch (haystack.kind()) {
    case Value::Kind::kUndefined:
      return false;
    case Value::Kind::kString:
      if (!needle.is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat("'in <string>' requires string as left operand, not ", TypeName(needle)));
      }
      return haystack.AsString().find(needle.AsString()) != std::string::npos;
    case Value::Kind::kList:
      for (const Value& item : haystack.AsList().items) {
        if (PyEquals(item, needle)) return true;
      }
      return false;
    case Value::Kind::kDict:
      if (needle.is_dict() || needle.kind() == Value::Kind::kNamespace ||
          (needle.is_list() && !needle.AsList().is_tuple())) {
        return absl::InvalidArgumentError(
            absl::StrCat("unhashable type: '", TypeName(needle), "'"));
      }
      return needle.is_string() && haystack.AsDict().Find(needle.AsString()) != nullptr;
    case Value::Kind::kLoop:
      for (const Value& item : haystack.AsLoop().items->items) {
        if (PyEquals(item, needle)) return true;
      }
      return false;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("argument of type '", TypeName(haystack), "' is not iterable"));
  }
}

absl::StatusOr<bool> ApplyTest(std::string_view name, const Value& value, const CallArgs& args) {
  using Kind = Value::Kind;
  const bool takes_arg = name == "divisibleby" || name == "eq" || name == "equalto" ||
                         name == "==" || name == "ne" || name == "!=" || name == "lt" ||
                         name == "lessthan" || name == "<" || name == "le" || name == "<=" ||
                         name == "gt" || name == "greaterthan" || name == ">" || name == "ge" ||
                         name == ">=" || name == "in" || name == "sameas";
  if (!takes_arg) {
    if (absl::Status s = NoArgs(name, args); !s.ok()) return s;
    if (name == "defined") return !value.is_undefined();
    if (name == "undefined") return value.is_undefined();
    if (name == "none") return value.is_none();
    if (name == "boolean") return value.kind() == Kind::kBool;
    if (name == "true") return value.kind() == Kind::kBool && value.AsBool();
    if (name == "false") return value.kind() == Kind::kBool && !value.AsBool();
    if (name == "integer") return value.kind() == Kind::kInt;
    if (name == "float") return value.kind() == Kind::kFloat;
    if (name == "number") return value.is_number();
    if (name == "string") return value.is_string();
    if (name == "mapping") return value.is_dict();
    if (name == "iterable") {
      return value.is_undefined() || value.is_string() || value.is_list() || value.is_dict() ||
             value.kind() == Kind::kLoop;
    }
    if (name == "sequence") {
      return value.is_undefined() || value.is_string() || value.is_dict() ||
             (value.is_list() && value.AsList().is_sequence());
    }
    // Undefined is callable in jinja2 (calling it raises).
    if (name == "callable") return value.kind() == Kind::kCallable || value.is_undefined();
    if (name == "odd" || name == "even") {
      auto r = PyModulo(value, Value::Int(2), name);
      if (!r.ok()) return r.status();
      return name == "odd" ? *r == 1.0 : *r == 0.0;
    }
    if (name == "lower" || name == "upper") {
      return AllCasedAre(ToPyStr(value), name == "upper");
    }
    if (name == "escaped") return false;
    return absl::InternalError(absl::StrCat("test '", std::string(name), "' not dispatched"));
  }
  auto other = OneArg(name, args);
  if (!other.ok()) return other.status();
  if (name == "divisibleby") {
    auto r = PyModulo(value, *other, name);
    if (!r.ok()) return r.status();
    return *r == 0.0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return PyEquals(value, *other);
  if (name == "ne" || name == "!=") return !PyEquals(value, *other);
  if (name == "in") return PyContains(*other, value);
  if (name == "sameas") {
    // Identity: singletons compare by kind, shared objects by address.
    if (value.kind() != other->kind()) return false;
    switch (value.kind()) {
      case Kind::kNone:
        return true;
      case Kind::kBool:
        return value.AsBool() == other->AsBool();
      case Kind::kList:
        return value.ListPtr() == other->ListPtr();
      case Kind::kNamespace:
        return value.NamespaceIdentity() == other->NamespaceIdentity();
      case Kind::kCallable:
        return value.CallableIdentity() == other->CallableIdentity();
      default:
        return PyEquals(value, *other);
    }
  }
  auto c = PyCompare(value, *other);
  if (!c.ok()) return c.status();
  if (name == "lt" || name == "lessthan" || name == "<") return *c == -1;
  if (name == "le" || name == "<=") return *c == -1 || *c == 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return *c == 1;
  return *c == 0 || *c == 1;
}

}  // namespace loom::jinja
