#include "engine/text/jinja/value.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/text/jinja/py_string.h"

namespace loom::jinja {
namespace {

absl::Status TooDeep() {
  return absl::InvalidArgumentError(
      absl::StrCat("value nests deeper than ", kMaxValueDepth, " lists/dicts"));
}

// Exact comparison of an int and a float, as Python does it: <0, 0, >0, or 2 for NaN.
int CompareIntFloat(int64_t i, double d) {
  if (std::isnan(d)) return 2;
  constexpr double kTwo63 = 9223372036854775808.0;
  if (d >= kTwo63) return -1;
  if (d < -kTwo63) return 1;
  const double floor = std::floor(d);
  const auto whole = static_cast<int64_t>(floor);
  if (i < whole) return -1;
  if (i > whole) return 1;
  return floor == d ? 0 : -1;
}

void ReprTo(const Value& v, size_t max_bytes, std::string* out);

void ReprDictTo(const DictData& dict, size_t max_bytes, std::string* out) {
  out->push_back('{');
  for (size_t i = 0; i < dict.items.size() && out->size() <= max_bytes; ++i) {
    if (i > 0) out->append(", ");
    out->append(ReprPyString(dict.items[i].first));
    out->append(": ");
    ReprTo(dict.items[i].second, max_bytes, out);
  }
  out->push_back('}');
}

void ReprTo(const Value& v, size_t max_bytes, std::string* out) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      out->append("Undefined");
      return;
    case Value::Kind::kNone:
      out->append("None");
      return;
    case Value::Kind::kBool:
      out->append(v.AsBool() ? "True" : "False");
      return;
    case Value::Kind::kInt:
      out->append(std::to_string(v.AsInt()));
      return;
    case Value::Kind::kFloat:
      out->append(FormatPyFloat(v.AsDouble()));
      return;
    case Value::Kind::kString:
      if (v.AsString().size() > max_bytes) {
        out->append(v.AsString(), 0, max_bytes + 1);  // too long either way
      } else {
        out->append(ReprPyString(v.AsString()));
      }
      return;
    case Value::Kind::kList: {
      const ListData& list = v.AsList();
      if (list.is_iterator()) {
        absl::StrAppend(out, "<", TypeName(v), " object>");
        return;
      }
      if (!list.is_sequence()) absl::StrAppend(out, TypeName(v), "(");
      out->append(list.is_tuple() ? "(" : "[");
      for (size_t i = 0; i < list.items.size() && out->size() <= max_bytes; ++i) {
        if (i > 0) out->append(", ");
        ReprTo(list.items[i], max_bytes, out);
      }
      if (list.is_tuple() && list.items.size() == 1) out->append(",");
      out->append(list.is_tuple() ? ")" : "]");
      if (!list.is_sequence()) out->append(")");
      return;
    }
    case Value::Kind::kDict:
      ReprDictTo(v.AsDict(), max_bytes, out);
      return;
    case Value::Kind::kNamespace:
      out->append("<Namespace ");
      ReprDictTo(v.AsNamespace().attributes, max_bytes, out);
      out->append(">");
      return;
    case Value::Kind::kLoop: {
      const LoopData& loop = v.AsLoop();
      absl::StrAppend(out, "<LoopContext ", loop.index0 + 1, "/", loop.items->items.size(), ">");
      return;
    }
    case Value::Kind::kCallable:
      absl::StrAppend(out, "<", v.AsCallable().Name(), ">");
      return;
  }
}

}  // namespace

const Value* DictData::Find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k == key) return &v;
  }
  return nullptr;
}

absl::StatusOr<Value> Value::List(std::vector<Value> items, SeqKind kind) {
  auto data = std::make_shared<ListData>();
  data->kind = kind;
  for (const Value& item : items) {
    data->depth = std::max(data->depth, 1 + item.Depth());
    data->holds_namespace = data->holds_namespace || item.HoldsNamespace();
  }
  if (data->depth > kMaxValueDepth) return TooDeep();
  data->items = std::move(items);
  return Value(Storage(std::shared_ptr<const ListData>(std::move(data))));
}

absl::StatusOr<Value> Value::Dict(std::vector<std::pair<std::string, Value>> items) {
  auto data = std::make_shared<DictData>();
  for (auto& [key, value] : items) {
    data->depth = std::max(data->depth, 1 + value.Depth());
    data->holds_namespace = data->holds_namespace || value.HoldsNamespace();
    bool replaced = false;
    for (auto& existing : data->items) {
      if (existing.first == key) {
        existing.second = std::move(value);
        replaced = true;
        break;
      }
    }
    if (!replaced) data->items.emplace_back(std::move(key), std::move(value));
  }
  if (data->depth > kMaxValueDepth) return TooDeep();
  return Value(Storage(std::shared_ptr<const DictData>(std::move(data))));
}

absl::StatusOr<Value> Value::FromJson(const nlohmann::ordered_json& json) {
  // Iterative depth check first, so the recursive conversion below stays shallow.
  struct Frame {
    const nlohmann::ordered_json* json;
    int depth;
  };
  std::vector<Frame> stack = {{&json, 1}};
  while (!stack.empty()) {
    Frame frame = stack.back();
    stack.pop_back();
    if (!frame.json->is_structured()) continue;
    if (frame.depth > kMaxValueDepth) return TooDeep();
    for (const auto& child : *frame.json) stack.push_back({&child, frame.depth + 1});
  }
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null:
      return MakeNone();
    case nlohmann::ordered_json::value_t::boolean:
      return Bool(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Int(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = json.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) {
        return absl::InvalidArgumentError(absl::StrCat("integer ", u, " is out of range"));
      }
      return Int(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Float(json.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return String(json.get_ref<const std::string&>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& child : json) {
        absl::StatusOr<Value> item = FromJson(child);
        if (!item.ok()) return item.status();
        items.push_back(*std::move(item));
      }
      return List(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      std::vector<std::pair<std::string, Value>> items;
      items.reserve(json.size());
      for (const auto& [key, child] : json.items()) {
        absl::StatusOr<Value> item = FromJson(child);
        if (!item.ok()) return item.status();
        items.emplace_back(key, *std::move(item));
      }
      return Dict(std::move(items));
    }
    default:
      return absl::InvalidArgumentError("unsupported JSON value (binary or discarded)");
  }
}

const std::string& Value::undefined_hint() const {
  static const std::string* const kNone = new std::string();
  const auto& hint = std::get<Undefined>(data_).hint;
  return hint != nullptr ? *hint : *kNone;
}

int64_t Value::AsInt() const {
  if (kind() == Kind::kBool) return AsBool() ? 1 : 0;
  return std::get<int64_t>(data_);
}

double Value::AsDouble() const {
  if (kind() == Kind::kFloat) return std::get<double>(data_);
  return static_cast<double>(AsInt());
}

int Value::Depth() const {
  switch (kind()) {
    case Kind::kList:
      return AsList().depth;
    case Kind::kDict:
      return AsDict().depth;
    case Kind::kLoop:
      return 1 + AsLoop().items->depth;
    case Kind::kNamespace:
      return 1;
    default:
      return 0;
  }
}

bool Value::HoldsNamespace() const {
  switch (kind()) {
    case Kind::kList:
      return AsList().holds_namespace;
    case Kind::kDict:
      return AsDict().holds_namespace;
    case Kind::kLoop:
      return AsLoop().items->holds_namespace;
    case Kind::kNamespace:
      return true;
    default:
      return false;
  }
}

bool Value::Truthy() const {
  switch (kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
      return AsBool();
    case Kind::kInt:
      return AsInt() != 0;
    case Kind::kFloat:
      return AsDouble() != 0.0;
    case Kind::kString:
      return !AsString().empty();
    case Kind::kList:
      return AsList().is_iterator() || !AsList().items.empty();
    case Kind::kDict:
      return !AsDict().items.empty();
    default:
      return true;
  }
}

std::string TypeName(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return "Undefined";
    case Value::Kind::kNone:
      return "NoneType";
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kInt:
      return "int";
    case Value::Kind::kFloat:
      return "float";
    case Value::Kind::kString:
      return "str";
    case Value::Kind::kList:
      switch (v.AsList().kind) {
        case SeqKind::kList:
          return "list";
        case SeqKind::kTuple:
          return "tuple";
        case SeqKind::kGenerator:
          return "generator";
        case SeqKind::kReverseIterator:
          return "list_reverseiterator";
        case SeqKind::kDictKeys:
          return "dict_keys";
        case SeqKind::kDictValues:
          return "dict_values";
        case SeqKind::kDictItems:
          return "dict_items";
      }
      return "list";
    case Value::Kind::kDict:
      return "dict";
    case Value::Kind::kNamespace:
      return "Namespace";
    case Value::Kind::kLoop:
      return "LoopContext";
    case Value::Kind::kCallable:
      return "function";
  }
  return "object";
}

std::string ObjectDescription(const Value& v) {
  if (v.is_none()) return "None";
  return absl::StrCat("'", TypeName(v), " object'");
}

std::string ToPyStr(const Value& v, size_t max_bytes) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return "";
    case Value::Kind::kString:
      return v.AsString();
    default:
      return ToPyRepr(v, max_bytes);
  }
}

std::string ToPyRepr(const Value& v, size_t max_bytes) {
  std::string out;
  ReprTo(v, max_bytes, &out);
  return out;
}

bool PyEquals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.AsInt() == b.AsInt();
    if (a.is_integral()) return CompareIntFloat(a.AsInt(), b.AsDouble()) == 0;
    if (b.is_integral()) return CompareIntFloat(b.AsInt(), a.AsDouble()) == 0;
    return a.AsDouble() == b.AsDouble();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return true;
    case Value::Kind::kString:
      return a.AsString() == b.AsString();
    case Value::Kind::kList: {
      const ListData& x = a.AsList();
      const ListData& y = b.AsList();
      if (x.is_iterator() || y.is_iterator()) return &x == &y;
      if (x.kind != y.kind || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i) {
        if (!PyEquals(x.items[i], y.items[i])) return false;
      }
      return true;
    }
    case Value::Kind::kDict: {
      const DictData& x = a.AsDict();
      const DictData& y = b.AsDict();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [key, value] : x.items) {
        const Value* other = y.Find(key);
        if (other == nullptr || !PyEquals(value, *other)) return false;
      }
      return true;
    }
    case Value::Kind::kNamespace:
      return a.NamespaceIdentity() == b.NamespaceIdentity();
    case Value::Kind::kLoop:
      return &a.AsLoop() == &b.AsLoop();
    case Value::Kind::kCallable:
      return a.CallableIdentity() == b.CallableIdentity();
    default:
      return false;
  }
}

absl::StatusOr<int> PyCompare(const Value& a, const Value& b) {
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) {
      return a.AsInt() < b.AsInt() ? -1 : (a.AsInt() > b.AsInt() ? 1 : 0);
    }
    int c;
    if (a.is_integral()) {
      c = CompareIntFloat(a.AsInt(), b.AsDouble());
    } else if (b.is_integral()) {
      c = CompareIntFloat(b.AsInt(), a.AsDouble());
      if (c != 2) c = -c;
    } else {
      const double x = a.AsDouble(), y = b.AsDouble();
      c = std::isnan(x) || std::isnan(y) ? 2 : (x < y ? -1 : (x > y ? 1 : 0));
    }
    // NaN compares false every way; report "unordered" as not-less and not-greater by
    // mapping it to a value no comparison operator accepts.
    return c;
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.AsString().compare(b.AsString());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && a.AsList().is_sequence() &&
      a.AsList().kind == b.AsList().kind) {
    const auto& x = a.AsList().items;
    const auto& y = b.AsList().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (PyEquals(x[i], y[i])) continue;
      return PyCompare(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  return absl::InvalidArgumentError(absl::StrCat("comparison not supported between instances of '",
                                                 TypeName(a), "' and '", TypeName(b), "'"));
}

absl::StatusOr<std::vector<Value>> Iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return std::vector<Value>();
    case Value::Kind::kList:
      return v.AsList().items;
    case Value::Kind::kDict: {
      std::vector<Value> keys;
      keys.reserve(v.AsDict().items.size());
      for (const auto& item : v.AsDict().items) keys.push_back(Value::String(item.first));
      return keys;
    }
    case Value::Kind::kString: {
      std::vector<Value> chars;
      const std::string& s = v.AsString();
      size_t pos = 0;
      while (pos < s.size()) {
        const size_t begin = pos;
        DecodeCodePoint(s, &pos);
        chars.push_back(Value::String(s.substr(begin, pos - begin)));
      }
      return chars;
    }
    case Value::Kind::kLoop:
      return v.AsLoop().items->items;
    default:
      return absl::InvalidArgumentError(absl::StrCat("'", TypeName(v), "' object is not iterable"));
  }
}

absl::StatusOr<int64_t> PyLen(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return 0;
    case Value::Kind::kString:
      return static_cast<int64_t>(CodePointCount(v.AsString()));
    case Value::Kind::kList:
      if (v.AsList().is_iterator()) break;
      return static_cast<int64_t>(v.AsList().items.size());
    case Value::Kind::kDict:
      return static_cast<int64_t>(v.AsDict().items.size());
    case Value::Kind::kLoop:
      return static_cast<int64_t>(v.AsLoop().items->items.size());
    default:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("object of type '", TypeName(v), "' has no len()"));
}

absl::Status UndefinedError(const Value& v) {
  const std::string& hint = v.undefined_hint();
  return absl::InvalidArgumentError(hint.empty() ? "value is undefined" : hint);
}

}  // namespace loom::jinja
