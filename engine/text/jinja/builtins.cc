#include "engine/text/jinja/builtins.h"

#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/text/jinja/args.h"
#include "engine/text/jinja/interpreter.h"

namespace loom::jinja {
namespace {

// jinja2.sandbox.MAX_RANGE.
constexpr int64_t kMaxRange = 100000;

absl::StatusOr<Value> Range(Interpreter& interpreter, const CallArgs& args) {
  if (!args.keyword.empty())
    return absl::InvalidArgumentError("range() takes no keyword arguments");
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("range expected 1 to 3 arguments, got ", p.size()));
  }
  for (const Value& v : p) {
    if (!v.is_integral()) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", TypeName(v), "' object cannot be interpreted as an integer"));
    }
  }
  const int64_t start = p.size() == 1 ? 0 : p[0].AsInt();
  const int64_t stop = p.size() == 1 ? p[0].AsInt() : p[1].AsInt();
  const int64_t step = p.size() == 3 ? p[2].AsInt() : 1;
  if (step == 0) return absl::InvalidArgumentError("range() arg 3 must not be zero");
  // Computed in uint64 so that no operand overflows.
  uint64_t length = 0;
  if (step > 0 && stop > start) {
    const uint64_t span = static_cast<uint64_t>(stop) - static_cast<uint64_t>(start);
    length = (span - 1) / static_cast<uint64_t>(step) + 1;
  } else if (step < 0 && start > stop) {
    const uint64_t span = static_cast<uint64_t>(start) - static_cast<uint64_t>(stop);
    const uint64_t magnitude = static_cast<uint64_t>(-(step + 1)) + 1;
    length = (span - 1) / magnitude + 1;
  }
  if (length > static_cast<uint64_t>(kMaxRange)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Range too big. The sandbox blocks ranges larger than MAX_RANGE (", kMaxRange, ")."));
  }
  if (absl::Status s = interpreter.budget().Charge(static_cast<int64_t>(length)); !s.ok()) {
    return s;
  }
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(length));
  for (int64_t i = 0; i < static_cast<int64_t>(length); ++i)
    items.push_back(Value::Int(start + i * step));
  return Value::List(std::move(items));
}

// dict(mapping, **kwargs) / namespace(mapping, **kwargs) initial items.
absl::StatusOr<std::vector<std::pair<std::string, Value>>> MappingArgs(std::string_view what,
                                                                       const CallArgs& args) {
  std::vector<std::pair<std::string, Value>> items;
  if (args.positional.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), " expected at most 1 positional argument"));
  }
  if (args.positional.size() == 1) {
    const Value& init = args.positional[0];
    if (init.is_dict()) {
      items = init.AsDict().items;
    } else if (!init.is_undefined()) {
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(what), "() positional argument must be a dict, not ", TypeName(init)));
    }
  }
  for (const auto& [k, v] : args.keyword) items.emplace_back(k, v);
  return items;
}

absl::StatusOr<Value> MakeNamespace(const CallArgs& args) {
  auto items = MappingArgs("namespace", args);
  if (!items.ok()) return items.status();
  for (const auto& [k, v] : *items) {
    if (v.HoldsNamespace()) {
      return absl::InvalidArgumentError("unsupported: a namespace attribute holding a namespace");
    }
  }
  auto dict = Value::Dict(*std::move(items));
  if (!dict.ok()) return dict.status();
  auto data = std::make_shared<NamespaceData>();
  data->attributes = dict->AsDict();
  return Value::Namespace(std::move(data));
}

absl::StatusOr<Value> StrftimeNow(const CallArgs& args) {
  auto bound = BindArgs("strftime_now", args, {"format"});
  if (!bound.ok()) return bound.status();
  if (!(*bound)[0].has_value() || !(*bound)[0]->is_string()) {
    return absl::InvalidArgumentError("strftime_now() takes a format string");
  }
  const std::string& format = (*bound)[0]->AsString();
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::string buffer(256 + 4 * format.size(), '\0');
  const size_t n = std::strftime(buffer.data(), buffer.size(), format.c_str(), &local);
  if (n == 0 && !format.empty()) return absl::InvalidArgumentError("strftime_now: bad format");
  buffer.resize(n);
  return Value::String(std::move(buffer));
}

class Builtin : public Callable {
 public:
  explicit Builtin(std::string name) : name_(std::move(name)) {}
  std::string Name() const override { return absl::StrCat("built-in function ", name_); }

  absl::StatusOr<Value> Call(Interpreter& interpreter, CallArgs args) const override {
    if (name_ == "range") return Range(interpreter, args);
    if (name_ == "namespace") return MakeNamespace(args);
    if (name_ == "dict") {
      auto items = MappingArgs("dict", args);
      if (!items.ok()) return items.status();
      return Value::Dict(*std::move(items));
    }
    if (name_ == "raise_exception") {
      auto bound = BindArgs("raise_exception", args, {"message"});
      if (!bound.ok()) return bound.status();
      return absl::InvalidArgumentError(ToPyStr(ArgOr((*bound)[0], Value::String("")), 4096));
    }
    return StrftimeNow(args);
  }

 private:
  std::string name_;
};

}  // namespace

std::optional<Value> LookupBuiltin(std::string_view name) {
  static const auto* const kBuiltins = [] {
    auto* builtins = new std::vector<std::pair<std::string, Value>>();
    for (const char* n : {"range", "namespace", "dict", "raise_exception", "strftime_now"}) {
      builtins->emplace_back(n, Value::Function(std::make_shared<const Builtin>(n)));
    }
    return builtins;
  }();
  for (const auto& [n, v] : *kBuiltins) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace loom::jinja
