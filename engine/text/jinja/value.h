// The values a Jinja template computes with: Python's objects as jinja2 sees them.
//
// A Value is one of: Undefined (jinja2's default Undefined: falsy, renders as "", raises
// on attribute access, arithmetic and calls), None, bool, int (int64; overflow is an
// error, not a bignum), float, str (UTF-8), a sequence (list, tuple, generator, dict
// view; see SeqKind), dict (string keys, insertion order), a namespace() object, a loop
// context, or a callable (macro, builtin, bound method).
//
// Strings, lists, dicts and loop contexts are immutable once built (transformers renders
// in jinja2's ImmutableSandboxedEnvironment) and shared by pointer, so copying a Value is
// cheap. Namespaces are the only mutable values. A namespace's
// attributes may not hold a namespace (directly or inside a container), so values form
// no cycles, and containers record their nesting depth so that it stays bounded: all
// recursive walks over values (repr, tojson, ==, destruction) stay shallow.
//
// Thread-safety: values are confined to the render that made them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace loom::jinja {

class Value;
class Interpreter;

// The deepest nesting of lists/dicts a value may have (JSON input included).
inline constexpr int kMaxValueDepth = 128;

struct Undefined {
  // The UndefinedError message ("'x' is undefined"); may be null. Shared, so that the
  // variant below holds no std::string of its own.
  std::shared_ptr<const std::string> hint;
};
struct None {};

// The Python type a ListData stands for. jinja2's sequence filters (map, select, unique,
// ...) return generators, which are always true, have no len() and no index, and print
// as "<generator object>"; dict.keys()/values()/items() return views.
enum class SeqKind {
  kList,
  kTuple,
  kGenerator,
  kReverseIterator,  // reversed(list)
  kDictKeys,
  kDictValues,
  kDictItems,
};

struct ListData {
  std::vector<Value> items;
  SeqKind kind = SeqKind::kList;
  int depth = 1;                 // 1 + the deepest element container
  bool holds_namespace = false;  // a namespace sits somewhere inside

  bool is_tuple() const { return kind == SeqKind::kTuple; }
  // list or tuple: indexable, sliceable, JSON-serializable.
  bool is_sequence() const { return kind == SeqKind::kList || kind == SeqKind::kTuple; }
  // A one-shot iterator: always true, no len().
  bool is_iterator() const {
    return kind == SeqKind::kGenerator || kind == SeqKind::kReverseIterator;
  }
};

struct DictData {
  std::vector<std::pair<std::string, Value>> items;  // insertion order, unique keys
  int depth = 1;
  bool holds_namespace = false;

  const Value* Find(std::string_view key) const;
};

struct NamespaceData {
  DictData attributes;
};

struct LoopData {
  std::shared_ptr<const ListData> items;  // what the loop iterates (after its `if`)
  size_t index0 = 0;
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Something a template can call: a builtin, a bound method, a macro.
class Callable {
 public:
  virtual ~Callable() = default;
  // For messages and repr: "built-in function range", "Macro 'm'".
  virtual std::string Name() const = 0;
  // Errors: InvalidArgument for bad arguments or a failing call (raise_exception), without
  // a location (the caller adds the line); ResourceExhausted past the render's budget.
  virtual absl::StatusOr<Value> Call(Interpreter& interpreter, CallArgs args) const = 0;
};

class Value {
 public:
  enum class Kind {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kDict,
    kNamespace,
    kLoop,
    kCallable
  };

  Value() = default;  // Undefined with no hint
  static Value MakeUndefined(std::string hint) {
    return Value(Storage(Undefined{std::make_shared<const std::string>(std::move(hint))}));
  }
  static Value MakeNone() { return Value(Storage(None{})); }
  static Value Bool(bool b) { return Value(Storage(b)); }
  static Value Int(int64_t i) { return Value(Storage(i)); }
  static Value Float(double d) { return Value(Storage(d)); }
  static Value String(std::string s) {
    return Value(Storage(std::make_shared<const std::string>(std::move(s))));
  }
  // Errors: InvalidArgument when the result would nest deeper than kMaxValueDepth.
  static absl::StatusOr<Value> List(std::vector<Value> items, SeqKind kind = SeqKind::kList);
  static absl::StatusOr<Value> Dict(std::vector<std::pair<std::string, Value>> items);
  static Value Namespace(std::shared_ptr<NamespaceData> data) {
    return Value(Storage(std::move(data)));
  }
  static Value Loop(std::shared_ptr<const LoopData> data) {
    return Value(Storage(std::move(data)));
  }
  static Value Function(std::shared_ptr<const Callable> f) { return Value(Storage(std::move(f))); }
  // JSON -> Value: objects become dicts (key order kept), arrays lists, null None.
  // Errors: InvalidArgument when nested deeper than kMaxValueDepth.
  static absl::StatusOr<Value> FromJson(const nlohmann::ordered_json& json);

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_undefined() const { return kind() == Kind::kUndefined; }
  bool is_none() const { return kind() == Kind::kNone; }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_list() const { return kind() == Kind::kList; }
  bool is_dict() const { return kind() == Kind::kDict; }
  // int or bool (Python's bool is an int).
  bool is_integral() const { return kind() == Kind::kInt || kind() == Kind::kBool; }
  bool is_number() const { return is_integral() || kind() == Kind::kFloat; }

  // REQUIRES for each accessor: the matching kind (is_integral() for AsInt()).
  // The UndefinedError message, or "" when none was given.
  const std::string& undefined_hint() const;
  bool AsBool() const { return std::get<bool>(data_); }
  int64_t AsInt() const;
  double AsDouble() const;  // any number
  const std::string& AsString() const {
    return *std::get<std::shared_ptr<const std::string>>(data_);
  }
  const ListData& AsList() const { return *std::get<std::shared_ptr<const ListData>>(data_); }
  const std::shared_ptr<const ListData>& ListPtr() const {
    return std::get<std::shared_ptr<const ListData>>(data_);
  }
  const DictData& AsDict() const { return *std::get<std::shared_ptr<const DictData>>(data_); }
  NamespaceData& AsNamespace() const { return *std::get<std::shared_ptr<NamespaceData>>(data_); }
  const NamespaceData* NamespaceIdentity() const {
    return std::get<std::shared_ptr<NamespaceData>>(data_).get();
  }
  const LoopData& AsLoop() const { return *std::get<std::shared_ptr<const LoopData>>(data_); }
  const Callable& AsCallable() const { return *std::get<std::shared_ptr<const Callable>>(data_); }
  const void* CallableIdentity() const {
    return std::get<std::shared_ptr<const Callable>>(data_).get();
  }

  // Nesting depth of containers (0 for scalars), and whether a namespace is inside
  // (or is this value).
  int Depth() const;
  bool HoldsNamespace() const;

  // Python truthiness (Undefined is false).
  bool Truthy() const;

 private:
  // Strings are shared: templates pass message contents around by value.
  using Storage = std::variant<Undefined, None, bool, int64_t, double,
                               std::shared_ptr<const std::string>, std::shared_ptr<const ListData>,
                               std::shared_ptr<const DictData>, std::shared_ptr<NamespaceData>,
                               std::shared_ptr<const LoopData>, std::shared_ptr<const Callable>>;
  explicit Value(Storage data) : data_(std::move(data)) {}

  Storage data_;
};

// Python's type name ("str", "int", "NoneType", "list", "Namespace", ...).
std::string TypeName(const Value& v);
// jinja2's description of an object in UndefinedError messages ("'dict object'", "None").
std::string ObjectDescription(const Value& v);

// str(v) as jinja2 prints it ({{ v }}): Undefined -> "", None -> "None", True -> "True",
// floats as repr, containers as their Python repr. Stops early once the text passes
// `max_bytes`, so that a caller that checks the size never builds a huge repr.
std::string ToPyStr(const Value& v, size_t max_bytes = SIZE_MAX);
// repr(v), with the same early stop.
std::string ToPyRepr(const Value& v, size_t max_bytes = SIZE_MAX);

// Python ==.
bool PyEquals(const Value& a, const Value& b);
// Python ordering: <0, 0, >0. Errors: InvalidArgument (TypeError) for unorderable types
// and for Undefined (UndefinedError).
absl::StatusOr<int> PyCompare(const Value& a, const Value& b);

// The items a `for` loop visits: list/tuple items, dict keys, string code points;
// Undefined yields nothing. Errors: InvalidArgument "'int' object is not iterable".
absl::StatusOr<std::vector<Value>> Iterate(const Value& v);

// len(v): strings in code points, lists, dicts; Undefined is 0.
absl::StatusOr<int64_t> PyLen(const Value& v);

// The UndefinedError for using `v` (which must be Undefined) in an operation.
absl::Status UndefinedError(const Value& v);

}  // namespace loom::jinja
