// Expression evaluation for the Interpreter (interpreter.h).
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/text/jinja/access.h"
#include "engine/text/jinja/builtins.h"
#include "engine/text/jinja/filters.h"
#include "engine/text/jinja/interpreter.h"
#include "engine/text/jinja/operators.h"
#include "engine/text/jinja/predicates.h"

namespace loom::jinja {

absl::Status Interpreter::ChargeScan(const Value& a, const Value& b) {
  size_t bytes = 0, items = 0;
  for (const Value* v : {&a, &b}) {
    if (v->is_string()) bytes += v->AsString().size();
    if (v->is_list()) items += v->AsList().items.size();
  }
  if (bytes > 0) return budget_.ChargeBytes(bytes);
  if (items > 0) return budget_.ChargeItems(items);
  return absl::OkStatus();
}

Value Interpreter::Lookup(std::string_view name, const Scope& scope) const {
  if (const Value* v = scope.Find(name)) return *v;
  if (std::optional<Value> builtin = LookupBuiltin(name)) return *builtin;
  return Value::MakeUndefined(absl::StrCat("'", std::string(name), "' is undefined"));
}

absl::StatusOr<CallArgs> Interpreter::EvalArgs(const std::vector<Arg>& args,
                                               const std::shared_ptr<Scope>& scope) {
  CallArgs out;
  for (const Arg& arg : args) {
    absl::StatusOr<Value> value = Eval(*arg.value, scope);
    if (!value.ok()) return value.status();
    if (arg.name.empty()) {
      out.positional.push_back(*std::move(value));
    } else {
      out.keyword.emplace_back(arg.name, *std::move(value));
    }
  }
  return out;
}

absl::StatusOr<Value> Interpreter::EvalCall(const Expr& expr, const std::shared_ptr<Scope>& scope,
                                            const Value* caller) {
  absl::StatusOr<Value> callee = Eval(*expr.children[0], scope);
  if (!callee.ok()) return callee.status();
  if (callee->is_undefined()) return Located(expr.line, UndefinedError(*callee));
  if (callee->kind() != Value::Kind::kCallable) {
    return Located(expr.line, absl::InvalidArgumentError(absl::StrCat("'", TypeName(*callee),
                                                                      "' object is not callable")));
  }
  absl::StatusOr<CallArgs> args = EvalArgs(expr.args, scope);
  if (!args.ok()) return args.status();
  const Callable& callable = callee->AsCallable();
  if (const auto* macro = dynamic_cast<const MacroCallable*>(&callable)) {
    return CallMacro(macro->macro(), macro->scope(), *std::move(args), caller, expr.line);
  }
  if (caller != nullptr) {
    return Located(expr.line, absl::InvalidArgumentError("a call block must call a macro"));
  }
  absl::StatusOr<Value> result = callable.Call(*this, *std::move(args));
  if (!result.ok()) return Located(expr.line, result.status());
  if (result.ok() && result->is_string()) {
    if (absl::Status s = budget_.CheckStringSize(result->AsString().size()); !s.ok()) {
      return Located(expr.line, s);
    }
  }
  return result;
}

absl::StatusOr<Value> Interpreter::EvalFilter(const Expr& expr, const std::shared_ptr<Scope>& scope,
                                              const Value* seed) {
  absl::StatusOr<Value> operand;
  if (expr.children[0] == nullptr) {
    operand = seed != nullptr ? *seed : Value();
  } else if (expr.children[0]->kind == ExprKind::kFilter) {
    operand = EvalFilter(*expr.children[0], scope, seed);
  } else {
    operand = Eval(*expr.children[0], scope);
  }
  if (!operand.ok()) return operand.status();
  absl::StatusOr<CallArgs> args = EvalArgs(expr.args, scope);
  if (!args.ok()) return args.status();
  absl::StatusOr<Value> result = ApplyFilter(expr.name, *operand, *args, budget_);
  if (!result.ok()) {
    return Located(expr.line, absl::Status(result.status().code(),
                                           absl::StrCat("filter '", expr.name,
                                                        "': ", result.status().message())));
  }
  return result;
}

absl::StatusOr<Value> Interpreter::EvalCompare(const Expr& expr,
                                               const std::shared_ptr<Scope>& scope) {
  absl::StatusOr<Value> left = Eval(*expr.children[0], scope);
  if (!left.ok()) return left.status();
  for (size_t i = 0; i < expr.ops.size(); ++i) {
    absl::StatusOr<Value> right = Eval(*expr.children[i + 1], scope);
    if (!right.ok()) return right.status();
    if (absl::Status s = ChargeScan(*left, *right); !s.ok()) return Located(expr.line, s);
    const std::string& op = expr.ops[i];
    bool holds = false;
    if (op == "==" || op == "!=") {
      holds = PyEquals(*left, *right) == (op == "==");
    } else if (op == "in" || op == "notin") {
      absl::StatusOr<bool> found = PyContains(*right, *left);
      if (!found.ok()) return Located(expr.line, found.status());
      holds = *found == (op == "in");
    } else {
      absl::StatusOr<int> c = PyCompare(*left, *right);
      if (!c.ok()) {
        return Located(
            expr.line,
            absl::Status(c.status().code(),
                         absl::StrCat("'", op, "' not supported: ", c.status().message())));
      }
      holds = op == "<"    ? *c == -1
              : op == "<=" ? (*c == -1 || *c == 0)
              : op == ">"  ? *c == 1
                           : (*c == 1 || *c == 0);
    }
    if (!holds) return Value::Bool(false);
    left = *std::move(right);
  }
  return Value::Bool(true);
}

absl::StatusOr<Value> Interpreter::Eval(const Expr& expr, const std::shared_ptr<Scope>& scope) {
  if (absl::Status s = CheckStack(expr.line); !s.ok()) return s;
  switch (expr.kind) {
    case ExprKind::kLiteral:
      return expr.literal;
    case ExprKind::kName:
      return Lookup(expr.name, *scope);
    case ExprKind::kList:
    case ExprKind::kTuple: {
      std::vector<Value> items;
      items.reserve(expr.children.size());
      for (const ExprPtr& child : expr.children) {
        absl::StatusOr<Value> item = Eval(*child, scope);
        if (!item.ok()) return item.status();
        items.push_back(*std::move(item));
      }
      absl::StatusOr<Value> list = Value::List(
          std::move(items), expr.kind == ExprKind::kTuple ? SeqKind::kTuple : SeqKind::kList);
      if (!list.ok()) return Located(expr.line, list.status());
      return list;
    }
    case ExprKind::kDict: {
      std::vector<std::pair<std::string, Value>> items;
      for (size_t i = 0; i + 1 < expr.children.size(); i += 2) {
        absl::StatusOr<Value> key = Eval(*expr.children[i], scope);
        if (!key.ok()) return key.status();
        if (!key->is_string()) {
          return Located(expr.line, absl::InvalidArgumentError(absl::StrCat(
                                        "unsupported: dict key of type '", TypeName(*key), "'")));
        }
        absl::StatusOr<Value> value = Eval(*expr.children[i + 1], scope);
        if (!value.ok()) return value.status();
        items.emplace_back(key->AsString(), *std::move(value));
      }
      absl::StatusOr<Value> dict = Value::Dict(std::move(items));
      if (!dict.ok()) return Located(expr.line, dict.status());
      return dict;
    }
    case ExprKind::kGetAttr: {
      absl::StatusOr<Value> obj = Eval(*expr.children[0], scope);
      if (!obj.ok()) return obj.status();
      absl::StatusOr<Value> v = GetAttr(*obj, expr.name);
      if (!v.ok()) return Located(expr.line, v.status());
      return v;
    }
    case ExprKind::kGetItem: {
      absl::StatusOr<Value> obj = Eval(*expr.children[0], scope);
      if (!obj.ok()) return obj.status();
      absl::StatusOr<Value> key = Eval(*expr.children[1], scope);
      if (!key.ok()) return key.status();
      if (absl::Status s = ChargeScan(*obj, Value()); !s.ok()) return Located(expr.line, s);
      absl::StatusOr<Value> v = GetItem(*obj, *key);
      if (!v.ok()) return Located(expr.line, v.status());
      return v;
    }
    case ExprKind::kSlice: {
      Value parts[4];
      for (size_t i = 0; i < 4; ++i) {
        if (expr.children[i] == nullptr) continue;
        absl::StatusOr<Value> part = Eval(*expr.children[i], scope);
        if (!part.ok()) return part.status();
        parts[i] = *std::move(part);
      }
      if (absl::Status s = ChargeScan(parts[0], Value()); !s.ok()) return Located(expr.line, s);
      absl::StatusOr<Value> v = GetSlice(parts[0], parts[1], parts[2], parts[3]);
      if (!v.ok()) return Located(expr.line, v.status());
      return v;
    }
    case ExprKind::kCall:
      return EvalCall(expr, scope, nullptr);
    case ExprKind::kFilter:
      return EvalFilter(expr, scope, nullptr);
    case ExprKind::kTest: {
      absl::StatusOr<Value> operand = Eval(*expr.children[0], scope);
      if (!operand.ok()) return operand.status();
      absl::StatusOr<CallArgs> args = EvalArgs(expr.args, scope);
      if (!args.ok()) return args.status();
      absl::StatusOr<bool> result = ApplyTest(expr.name, *operand, *args);
      if (!result.ok()) return Located(expr.line, result.status());
      return Value::Bool(*result != expr.negated);
    }
    case ExprKind::kUnary: {
      absl::StatusOr<Value> operand = Eval(*expr.children[0], scope);
      if (!operand.ok()) return operand.status();
      if (expr.name == "not") return Value::Bool(!operand->Truthy());
      absl::StatusOr<Value> v = UnaryOp(expr.name, *operand);
      if (!v.ok()) return Located(expr.line, v.status());
      return v;
    }
    case ExprKind::kBinary: {
      absl::StatusOr<Value> left = Eval(*expr.children[0], scope);
      if (!left.ok()) return left.status();
      if (expr.name == "and" || expr.name == "or") {
        if (left->Truthy() == (expr.name == "or")) return left;
        return Eval(*expr.children[1], scope);
      }
      absl::StatusOr<Value> right = Eval(*expr.children[1], scope);
      if (!right.ok()) return right.status();
      absl::StatusOr<Value> v = BinaryOp(expr.name, *left, *right, budget_);
      if (!v.ok()) return Located(expr.line, v.status());
      return v;
    }
    case ExprKind::kCompare:
      return EvalCompare(expr, scope);
    case ExprKind::kCondition: {
      absl::StatusOr<Value> condition = Eval(*expr.children[1], scope);
      if (!condition.ok()) return condition.status();
      if (condition->Truthy()) return Eval(*expr.children[0], scope);
      if (expr.children[2] != nullptr) return Eval(*expr.children[2], scope);
      return Value::MakeUndefined(absl::StrCat("the inline if-expression on line ", expr.line,
                                               " evaluated to false and no else section was "
                                               "defined."));
    }
  }
  return Located(expr.line, absl::InternalError("unknown expression kind"));
}

}  // namespace loom::jinja
