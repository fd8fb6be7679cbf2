#include "engine/text/jinja/access.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/text/jinja/methods.h"
#include "engine/text/jinja/py_string.h"

namespace loom::jinja {
namespace {

// jinja2's object_type_repr: "dict object", or "None".
std::string TypeDescription(const Value& v) {
  if (v.is_none()) return "None";
  return absl::StrCat(TypeName(v), " object");
}

Value NoAttribute(const Value& obj, std::string_view name) {
  return Value::MakeUndefined(
      absl::StrCat("'", TypeDescription(obj), "' has no attribute '", std::string(name), "'"));
}

Value NoElement(const Value& obj, const Value& key) {
  return Value::MakeUndefined(
      absl::StrCat(TypeDescription(obj), " has no element ", ToPyRepr(key, 256)));
}

// The cycle(*values) method of a loop context.
class LoopCycle : public Callable {
 public:
  explicit LoopCycle(size_t index0) : index0_(index0) {}
  std::string Name() const override { return "loop.cycle"; }
  absl::StatusOr<Value> Call(Interpreter& /*interpreter*/, CallArgs args) const override {
    if (!args.keyword.empty()) return absl::InvalidArgumentError("loop.cycle() takes no keywords");
    if (args.positional.empty()) {
      return absl::InvalidArgumentError("no items for cycling given");
    }
    return args.positional[index0_ % args.positional.size()];
  }

 private:
  size_t index0_;
};

std::optional<Value> LoopAttribute(const LoopData& loop, std::string_view name) {
  const auto length = static_cast<int64_t>(loop.items->items.size());
  const auto index0 = static_cast<int64_t>(loop.index0);
  if (name == "index") return Value::Int(index0 + 1);
  if (name == "index0") return Value::Int(index0);
  if (name == "revindex") return Value::Int(length - index0);
  if (name == "revindex0") return Value::Int(length - index0 - 1);
  if (name == "first") return Value::Bool(index0 == 0);
  if (name == "last") return Value::Bool(index0 + 1 == length);
  if (name == "length") return Value::Int(length);
  if (name == "depth") return Value::Int(1);
  if (name == "depth0") return Value::Int(0);
  if (name == "previtem") {
    if (index0 == 0) return Value::MakeUndefined("there is no previous item");
    return loop.items->items[loop.index0 - 1];
  }
  if (name == "nextitem") {
    if (index0 + 1 >= length) return Value::MakeUndefined("there is no next item");
    return loop.items->items[loop.index0 + 1];
  }
  if (name == "cycle") return Value::Function(std::make_shared<LoopCycle>(loop.index0));
  if (name == "changed") return Value::MakeUndefined("unsupported: loop.changed()");
  return std::nullopt;
}

// Python's slice.indices(): normalized start/stop for `length` and `step`.
void AdjustSlice(int64_t length, int64_t step, std::optional<int64_t> start_in,
                 std::optional<int64_t> stop_in, int64_t* start, int64_t* stop) {
  auto adjust = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v.has_value()) return fallback;
    int64_t i = *v;
    if (i < 0) {
      i += length;
      if (i < 0) i = step < 0 ? -1 : 0;
    } else if (i >= length) {
      i = step < 0 ? length - 1 : length;
    }
    return i;
  };
  *start = adjust(start_in, step < 0 ? length - 1 : 0);
  *stop = adjust(stop_in, step < 0 ? -1 : length);
}

absl::StatusOr<std::optional<int64_t>> SliceBound(const Value& v) {
  if (v.is_undefined() || v.is_none()) return std::optional<int64_t>();
  if (!v.is_integral()) {
    return absl::InvalidArgumentError(
        "slice indices must be integers or None or have an __index__ method");
  }
  return std::optional<int64_t>(v.AsInt());
}

}  // namespace

absl::StatusOr<Value> GetAttr(const Value& obj, std::string_view name) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined:
      return UndefinedError(obj);
    case Value::Kind::kDict: {
      if (std::optional<Value> method = LookupMethod(obj, name)) return *method;
      if (const Value* v = obj.AsDict().Find(name)) return *v;
      return NoAttribute(obj, name);
    }
    case Value::Kind::kNamespace: {
      if (const Value* v = obj.AsNamespace().attributes.Find(name)) return *v;
      return NoAttribute(obj, name);
    }
    case Value::Kind::kLoop: {
      if (std::optional<Value> v = LoopAttribute(obj.AsLoop(), name)) return *v;
      return NoAttribute(obj, name);
    }
    default:
      if (std::optional<Value> method = LookupMethod(obj, name)) return *method;
      return NoAttribute(obj, name);
  }
}

absl::StatusOr<Value> GetItem(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined:
      return UndefinedError(obj);
    case Value::Kind::kDict:
      if (key.is_string()) {
        if (const Value* v = obj.AsDict().Find(key.AsString())) return *v;
      }
      break;
    case Value::Kind::kList:
      if (key.is_integral() && obj.AsList().is_sequence()) {
        const auto& items = obj.AsList().items;
        int64_t i = key.AsInt();
        if (i < 0) i += static_cast<int64_t>(items.size());
        if (i >= 0 && i < static_cast<int64_t>(items.size())) {
          return items[static_cast<size_t>(i)];
        }
        return NoElement(obj, key);
      }
      break;
    case Value::Kind::kString:
      if (key.is_integral()) {
        std::u32string cps = ToCodePoints(obj.AsString());
        int64_t i = key.AsInt();
        if (i < 0) i += static_cast<int64_t>(cps.size());
        if (i >= 0 && i < static_cast<int64_t>(cps.size())) {
          std::string one;
          AppendCodePoint(cps[static_cast<size_t>(i)], &one);
          return Value::String(std::move(one));
        }
        return NoElement(obj, key);
      }
      break;
    default:
      break;
  }
  if (key.is_string()) {
    if (obj.kind() == Value::Kind::kDict) {
      if (std::optional<Value> method = LookupMethod(obj, key.AsString())) return *method;
      return NoAttribute(obj, key.AsString());
    }
    return GetAttr(obj, key.AsString());
  }
  return NoElement(obj, key);
}

absl::StatusOr<Value> GetSlice(const Value& obj, const Value& start, const Value& stop,
                               const Value& step) {
  if (obj.is_undefined()) return UndefinedError(obj);
  auto start_bound = SliceBound(start);
  if (!start_bound.ok()) return start_bound.status();
  auto stop_bound = SliceBound(stop);
  if (!stop_bound.ok()) return stop_bound.status();
  auto step_bound = SliceBound(step);
  if (!step_bound.ok()) return step_bound.status();
  const int64_t step_value = step_bound->value_or(1);
  if (step_value == 0) return absl::InvalidArgumentError("slice step cannot be zero");

  auto pick = [&](int64_t length, auto&& emit) {
    int64_t begin = 0, end = 0;
    AdjustSlice(length, step_value, *start_bound, *stop_bound, &begin, &end);
    for (int64_t i = begin; step_value > 0 ? i < end : i > end; i += step_value) {
      emit(static_cast<size_t>(i));
      // Stop before i overflows on huge steps.
      if ((step_value > 0 && i > INT64_MAX - step_value) ||
          (step_value < 0 && i < INT64_MIN - step_value)) {
        break;
      }
    }
  };
  if (obj.is_list() && obj.AsList().is_sequence()) {
    const ListData& list = obj.AsList();
    std::vector<Value> items;
    pick(static_cast<int64_t>(list.items.size()),
         [&](size_t i) { items.push_back(list.items[i]); });
    return Value::List(std::move(items), list.kind);
  }
  if (obj.is_string()) {
    std::u32string cps = ToCodePoints(obj.AsString());
    std::u32string out;
    pick(static_cast<int64_t>(cps.size()), [&](size_t i) { out.push_back(cps[i]); });
    return Value::String(FromCodePoints(out));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", TypeName(obj), "' object is not subscriptable"));
}

}  // namespace loom::jinja
