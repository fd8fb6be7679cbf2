// Executes a parsed template: statements, expressions, scopes, macros and limits.
//
// Scoping follows jinja2: the template's top level is one scope (holding the render
// context); each `for` iteration, macro call, caller() call, `with` block and block
// `set` runs in a child scope, so `set` inside them is not seen outside (namespaces are
// the way out); `if` opens no scope. A name not found in any scope falls back to the
// builtins (range, namespace, dict, raise_exception, strftime_now), then is Undefined.
//
// Errors carry the template name and the line of the expression or tag that failed:
// "chat_template:12: 'foo' is undefined". All of them are InvalidArgument except limits
// (ResourceExhausted, see budget.h).
//
// Not thread-safe: one Interpreter per render (the template itself is shared, read-only).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/text/jinja/ast.h"
#include "engine/text/jinja/budget.h"
#include "engine/text/jinja/value.h"

namespace loom::jinja {

// One level of variables; children see their parents' variables.
struct Scope {
  std::shared_ptr<Scope> parent;
  std::vector<std::pair<std::string, Value>> vars;

  // The innermost binding of `name`, or nullptr.
  const Value* Find(std::string_view name) const;
  // Binds `name` here (shadowing any parent binding).
  void Set(std::string_view name, Value value);
};

class Interpreter;

// A macro, or a call block's body as `caller`, as a callable value. Holds the scope it
// was defined in weakly (scopes hold macros, so a strong reference would be a cycle).
class MacroCallable : public Callable {
 public:
  MacroCallable(const MacroDef* macro, std::weak_ptr<Scope> scope)
      : macro_(macro), scope_(std::move(scope)) {}
  std::string Name() const override;
  absl::StatusOr<Value> Call(Interpreter& interpreter, CallArgs args) const override;

  const MacroDef& macro() const { return *macro_; }
  const std::weak_ptr<Scope>& scope() const { return scope_; }

 private:
  const MacroDef* macro_;  // owned by the template's tree, which outlives the render
  std::weak_ptr<Scope> scope_;
};

class Interpreter {
 public:
  // `template_name` prefixes error messages. `budget` must outlive the interpreter.
  Interpreter(std::string_view template_name, Budget& budget)
      : template_name_(template_name), budget_(budget) {}

  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders `body` with `context` as the top-level variables.
  absl::StatusOr<std::string> Render(const Body& body,
                                     std::vector<std::pair<std::string, Value>> context);

  Budget& budget() { return budget_; }

  // Calls a macro (or a call block's caller) defined in `scope` (which may have ended;
  // then the top-level scope stands in). `caller`, when set, is bound as `caller`.
  // Errors: those of the macro's body (already located), argument errors, and
  // ResourceExhausted past max_call_depth.
  absl::StatusOr<Value> CallMacro(const MacroDef& macro, const std::weak_ptr<Scope>& scope,
                                  CallArgs args, const Value* caller, int call_line);

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  // --- statements (interpreter.cc) ----------------------------------------------------
  absl::StatusOr<Flow> ExecBody(const Body& body, const std::shared_ptr<Scope>& scope);
  absl::StatusOr<Flow> Exec(const Stmt& stmt, const std::shared_ptr<Scope>& scope);
  absl::StatusOr<Flow> ExecFor(const ForStmt& node, int line, const std::shared_ptr<Scope>& scope);
  absl::Status Assign(const Target& target, Value value, int line, Scope& scope);
  absl::Status Emit(std::string_view text, int line);
  // Runs `body` in a child of `scope` into a fresh buffer and returns what it printed.
  // `*flow` says whether a break/continue left the body early (jinja2 compiles block
  // sets and filter blocks inline, so those act on the enclosing loop).
  absl::StatusOr<std::string> Capture(const Body& body, const std::shared_ptr<Scope>& scope,
                                      Flow* flow);

  // --- expressions (evaluator.cc) -----------------------------------------------------
  absl::StatusOr<Value> Eval(const Expr& expr, const std::shared_ptr<Scope>& scope);
  absl::StatusOr<Value> EvalCall(const Expr& expr, const std::shared_ptr<Scope>& scope,
                                 const Value* caller);
  absl::StatusOr<CallArgs> EvalArgs(const std::vector<Arg>& args,
                                    const std::shared_ptr<Scope>& scope);
  // A filter chain; a chain link whose operand is null gets `seed`.
  absl::StatusOr<Value> EvalFilter(const Expr& expr, const std::shared_ptr<Scope>& scope,
                                   const Value* seed);
  absl::StatusOr<Value> EvalCompare(const Expr& expr, const std::shared_ptr<Scope>& scope);
  Value Lookup(std::string_view name, const Scope& scope) const;
  // Charges the budget for an operation that scans the strings or lists `a` and `b`.
  absl::Status ChargeScan(const Value& a, const Value& b);

  // "NAME:LINE: message" with `status`'s code.
  absl::Status Located(int line, const absl::Status& status) const;
  // ResourceExhausted (at `line`) once the stack has grown max_stack_bytes past Render().
  absl::Status CheckStack(int line) const;

  std::string_view template_name_;
  Budget& budget_;
  std::shared_ptr<Scope> root_;
  std::string* out_ = nullptr;
  int call_depth_ = 0;
  uintptr_t stack_base_ = 0;  // the address of Render()'s frame
};

}  // namespace loom::jinja
