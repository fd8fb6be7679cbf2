#include "engine/text/jinja/filters.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/text/jinja/access.h"
#include "engine/text/jinja/args.h"
#include "engine/text/jinja/json_dump.h"
#include "engine/text/jinja/percent_format.h"
#include "engine/text/jinja/py_string.h"
#include "engine/text/jinja/sequence_filters.h"

namespace loom::jinja {
namespace {

constexpr std::string_view kStringFilters[] = {
    "trim", "upper",  "lower",   "capitalize", "title",  "replace", "string",
    "safe", "escape", "e",       "indent",     "tojson", "int",     "float",
    "abs",  "round",  "default", "d",          "attr",   "format"};

absl::StatusOr<std::vector<std::optional<Value>>> Bind(std::string_view name, const CallArgs& args,
                                                       std::initializer_list<std::string_view> p) {
  return BindArgs(absl::StrCat("filter '", std::string(name), "'"), args, p);
}

std::string HtmlEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// jinja2's indent filter.
absl::StatusOr<Value> Indent(const Value& operand, const CallArgs& args, Budget& budget) {
  auto bound = Bind("indent", args, {"width", "first", "blank"});
  if (!bound.ok()) return bound.status();
  if (!operand.is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported operand type(s) for +=: '", TypeName(operand), "' and 'str'"));
  }
  std::string indention;
  const Value width = ArgOr((*bound)[0], Value::Int(4));
  if (width.is_string()) {
    indention = width.AsString();
  } else if (width.is_integral()) {
    const int64_t n = std::max<int64_t>(0, width.AsInt());
    if (absl::Status s = budget.CheckStringSize(static_cast<size_t>(n)); !s.ok()) return s;
    indention.assign(static_cast<size_t>(n), ' ');
  } else {
    return absl::InvalidArgumentError("filter 'indent': width must be an int or a str");
  }
  const bool first = ArgOr((*bound)[1], Value::Bool(false)).Truthy();
  const bool blank = ArgOr((*bound)[2], Value::Bool(false)).Truthy();
  std::vector<std::string> lines = PySplitLines(ToPyStr(operand) + "\n");
  size_t total = 0;
  for (const auto& line : lines) total += line.size() + 1 + indention.size();
  if (absl::Status s = budget.CheckStringSize(total); !s.ok()) return s;
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += "\n";
    const bool indent_line = i > 0 && (blank || !lines[i].empty());
    if (indent_line) out += indention;
    out += lines[i];
  }
  if (first) out = indention + out;
  return Value::String(std::move(out));
}

absl::StatusOr<Value> ToJson(const Value& operand, const CallArgs& args, Budget& budget) {
  auto bound = Bind("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
  if (!bound.ok()) return bound.status();
  JsonDumpOptions options;
  options.max_bytes = budget.limits().max_output_bytes;
  options.ensure_ascii = ArgOr((*bound)[0], Value::Bool(false)).Truthy();
  options.sort_keys = ArgOr((*bound)[3], Value::Bool(false)).Truthy();
  const Value indent = ArgOr((*bound)[1], Value::MakeNone());
  if (indent.is_integral()) {
    const int64_t n = std::max<int64_t>(0, indent.AsInt());
    if (absl::Status s = budget.CheckStringSize(static_cast<size_t>(n)); !s.ok()) return s;
    options.indent = std::string(static_cast<size_t>(n), ' ');
  } else if (indent.is_string()) {
    options.indent = indent.AsString();
  } else if (!indent.is_none()) {
    return absl::InvalidArgumentError("filter 'tojson': indent must be None, an int or a str");
  }
  const Value separators = ArgOr((*bound)[2], Value::MakeNone());
  if (!separators.is_none()) {
    if (!separators.is_list() || separators.AsList().items.size() != 2 ||
        !separators.AsList().items[0].is_string() || !separators.AsList().items[1].is_string()) {
      return absl::InvalidArgumentError(
          "filter 'tojson': separators must be an (item_separator, key_separator) pair");
    }
    options.item_separator = separators.AsList().items[0].AsString();
    options.key_separator = separators.AsList().items[1].AsString();
  }
  auto text = DumpJson(operand, options);
  if (!text.ok()) return text.status();
  return Value::String(*std::move(text));
}

absl::StatusOr<Value> IntFilter(const Value& operand, const CallArgs& args) {
  auto bound = Bind("int", args, {"default", "base"});
  if (!bound.ok()) return bound.status();
  const Value fallback = ArgOr((*bound)[0], Value::Int(0));
  const Value base = ArgOr((*bound)[1], Value::Int(10));
  if (!base.is_integral()) return absl::InvalidArgumentError("filter 'int': base must be an int");
  auto from_double = [&](double d) -> absl::StatusOr<Value> {
    if (std::isnan(d)) return fallback;
    if (std::isinf(d)) {
      return absl::InvalidArgumentError("cannot convert float infinity to integer");
    }
    const double t = std::trunc(d);
    if (t >= 9223372036854775808.0 || t < -9223372036854775808.0) {
      return absl::InvalidArgumentError("integer out of range");
    }
    return Value::Int(static_cast<int64_t>(t));
  };
  if (operand.is_integral()) return Value::Int(operand.AsInt());
  if (operand.kind() == Value::Kind::kFloat) return from_double(operand.AsDouble());
  if (operand.is_string()) {
    if (std::optional<int64_t> i = ParsePyInt(operand.AsString(), static_cast<int>(base.AsInt()))) {
      return Value::Int(*i);
    }
    std::optional<double> d = ParsePyFloat(operand.AsString());
    if (!d.has_value() || std::isinf(*d)) return fallback;
    return from_double(*d);
  }
  return fallback;
}

absl::StatusOr<Value> FloatFilter(const Value& operand, const CallArgs& args) {
  auto bound = Bind("float", args, {"default"});
  if (!bound.ok()) return bound.status();
  const Value fallback = ArgOr((*bound)[0], Value::Float(0.0));
  if (operand.is_number()) return Value::Float(operand.AsDouble());
  if (operand.is_string()) {
    if (std::optional<double> d = ParsePyFloat(operand.AsString())) return Value::Float(*d);
  }
  return fallback;
}

absl::StatusOr<Value> Abs(const Value& operand, const CallArgs& args) {
  if (absl::Status s = Bind("abs", args, {}).status(); !s.ok()) return s;
  if (operand.is_integral()) {
    if (operand.AsInt() == INT64_MIN) return absl::InvalidArgumentError("integer overflow");
    return Value::Int(operand.AsInt() < 0 ? -operand.AsInt() : operand.AsInt());
  }
  if (operand.kind() == Value::Kind::kFloat) return Value::Float(std::fabs(operand.AsDouble()));
  return absl::InvalidArgumentError(
      absl::StrCat("bad operand type for abs(): '", TypeName(operand), "'"));
}

// Python's round(x, ndigits) for a float: correctly rounded, ties to even.
double RoundFloat(double x, int64_t digits) {
  if (!std::isfinite(x)) return x;
  if (digits >= 0) {
    if (digits > 300) return x;
    char buffer[512];
    auto result = std::to_chars(buffer, buffer + sizeof(buffer), x, std::chars_format::fixed,
                                static_cast<int>(digits));
    if (result.ec != std::errc()) return x;
    double parsed = x;
    std::from_chars(buffer, result.ptr, parsed);
    return parsed;
  }
  if (digits < -308) return 0.0 * x;
  const double scale = std::pow(10.0, static_cast<double>(-digits));
  return std::nearbyint(x / scale) * scale;
}

absl::StatusOr<Value> Round(const Value& operand, const CallArgs& args) {
  auto bound = Bind("round", args, {"precision", "method"});
  if (!bound.ok()) return bound.status();
  const Value precision = ArgOr((*bound)[0], Value::Int(0));
  const Value method = ArgOr((*bound)[1], Value::String("common"));
  if (!method.is_string() || (method.AsString() != "common" && method.AsString() != "ceil" &&
                              method.AsString() != "floor")) {
    return absl::InvalidArgumentError("method must be common, ceil or floor");
  }
  if (!precision.is_integral()) {
    return absl::InvalidArgumentError("filter 'round': precision must be an int");
  }
  if (!operand.is_number()) {
    return absl::InvalidArgumentError(
        absl::StrCat("type ", TypeName(operand), " doesn't define __round__ method"));
  }
  const int64_t digits = precision.AsInt();
  if (method.AsString() == "common") {
    if (operand.is_integral()) {
      if (digits >= 0) return Value::Int(operand.AsInt());
      const double r = RoundFloat(static_cast<double>(operand.AsInt()), digits);
      return Value::Int(static_cast<int64_t>(r));
    }
    return Value::Float(RoundFloat(operand.AsDouble(), digits));
  }
  const double scale = std::pow(10.0, static_cast<double>(digits));
  const double scaled = operand.AsDouble() * scale;
  const double rounded = method.AsString() == "ceil" ? std::ceil(scaled) : std::floor(scaled);
  return Value::Float(rounded / scale);
}

absl::StatusOr<Value> ApplyStringFilter(std::string_view name, const Value& operand,
                                        const CallArgs& args, Budget& budget) {
  if (name == "default" || name == "d") {
    auto bound = Bind(name, args, {"default_value", "boolean"});
    if (!bound.ok()) return bound.status();
    const bool boolean = ArgOr((*bound)[1], Value::Bool(false)).Truthy();
    if (operand.is_undefined() || (boolean && !operand.Truthy())) {
      return ArgOr((*bound)[0], Value::String(""));
    }
    return operand;
  }
  if (name == "trim") {
    auto bound = Bind(name, args, {"chars"});
    if (!bound.ok()) return bound.status();
    std::optional<std::string> chars;
    if ((*bound)[0].has_value() && !(*bound)[0]->is_none()) chars = ToPyStr(*(*bound)[0]);
    return Value::String(PyStrip(ToPyStr(operand), chars, StripSide::kBoth));
  }
  if (name == "replace") {
    auto bound = Bind(name, args, {"old", "new", "count"});
    if (!bound.ok()) return bound.status();
    if (!(*bound)[0].has_value() || !(*bound)[1].has_value()) {
      return absl::InvalidArgumentError("filter 'replace' needs old and new");
    }
    const Value count = ArgOr((*bound)[2], Value::MakeNone());
    if (!count.is_none() && !count.is_integral()) {
      return absl::InvalidArgumentError("filter 'replace': count must be an int");
    }
    const std::string s = ToPyStr(operand);
    const std::string old_text = ToPyStr(*(*bound)[0]);
    const std::string new_text = ToPyStr(*(*bound)[1]);
    int64_t hits = PyCount(s, old_text);
    if (!count.is_none() && count.AsInt() >= 0) hits = std::min(hits, count.AsInt());
    const size_t size = s.size() + static_cast<size_t>(hits) * new_text.size();
    if (absl::Status st = budget.CheckStringSize(size); !st.ok()) return st;
    return Value::String(PyReplace(s, old_text, new_text, count.is_none() ? -1 : count.AsInt()));
  }
  if (name == "indent") return Indent(operand, args, budget);
  if (name == "tojson") return ToJson(operand, args, budget);
  if (name == "int") return IntFilter(operand, args);
  if (name == "float") return FloatFilter(operand, args);
  if (name == "abs") return Abs(operand, args);
  if (name == "round") return Round(operand, args);
  if (name == "format") {
    if (!args.positional.empty() && !args.keyword.empty()) {
      return absl::InvalidArgumentError(
          "can't handle positional and keyword arguments at the same time");
    }
    absl::StatusOr<Value> format_args = args.keyword.empty()
                                            ? Value::List(args.positional, SeqKind::kTuple)
                                            : Value::Dict(args.keyword);
    if (!format_args.ok()) return format_args.status();
    auto text = PercentFormat(ToPyStr(operand), *format_args, budget.limits().max_output_bytes);
    if (!text.ok()) return text.status();
    return Value::String(*std::move(text));
  }
  if (name == "attr") {
    auto bound = Bind(name, args, {"name"});
    if (!bound.ok()) return bound.status();
    if (!(*bound)[0].has_value() || !(*bound)[0]->is_string()) {
      return absl::InvalidArgumentError("filter 'attr' needs a str name");
    }
    return GetAttr(operand, (*bound)[0]->AsString());
  }
  if (absl::Status s = Bind(name, args, {}).status(); !s.ok()) return s;
  const std::string text = ToPyStr(operand, budget.limits().max_output_bytes);
  if (absl::Status s = budget.CheckStringSize(text.size()); !s.ok()) return s;
  if (name == "upper") return Value::String(PyUpper(text));
  if (name == "lower") return Value::String(PyLower(text));
  if (name == "capitalize") return Value::String(PyCapitalize(text));
  if (name == "title") return Value::String(JinjaTitleFilter(text));
  if (name == "escape" || name == "e") return Value::String(HtmlEscape(text));
  // string, safe
  return Value::String(text);
}

}  // namespace

bool IsKnownFilter(std::string_view name) {
  return std::find(std::begin(kStringFilters), std::end(kStringFilters), name) !=
             std::end(kStringFilters) ||
         IsSequenceFilter(name);
}

absl::StatusOr<Value> ApplyFilter(std::string_view name, const Value& operand, const CallArgs& args,
                                  Budget& budget) {
  if (operand.is_string()) {
    if (absl::Status s = budget.ChargeBytes(operand.AsString().size()); !s.ok()) return s;
  }
  absl::StatusOr<Value> result = IsSequenceFilter(name)
                                     ? ApplySequenceFilter(name, operand, args, budget)
                                     : ApplyStringFilter(name, operand, args, budget);
  if (result.ok() && result->is_string()) {
    if (absl::Status s = budget.CheckStringSize(result->AsString().size()); !s.ok()) return s;
    if (absl::Status s = budget.ChargeBytes(result->AsString().size()); !s.ok()) return s;
  }
  return result;
}

}  // namespace loom::jinja
