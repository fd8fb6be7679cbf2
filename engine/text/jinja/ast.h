// The syntax tree of a parsed Jinja template.
//
// Expressions are one tagged struct (the evaluator switches on `kind`); statements are a
// variant of one struct per tag. Every node records the source line it came from, for
// error messages. A Template owns its tree; nothing in it changes after parsing, so one
// tree may be rendered from many threads at once.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "engine/text/jinja/value.h"

namespace loom::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// One argument of a call, filter or test; `name` is empty for a positional one.
struct Arg {
  std::string name;
  ExprPtr value;
};

enum class ExprKind {
  kLiteral,    // `literal`
  kName,       // variable `name`
  kList,       // [children...]
  kTuple,      // (children...)
  kDict,       // {children[0]: children[1], ...}: keys at even, values at odd indexes
  kGetAttr,    // children[0].name
  kGetItem,    // children[0][children[1]]
  kSlice,      // children[0][children[1]:children[2]:children[3]]; missing parts null
  kCall,       // children[0](args)
  kFilter,     // children[0] | name(args); children[0] null in `{% filter %}` blocks
  kTest,       // children[0] is [not] name(args); `negated`
  kUnary,      // name in {"not", "-", "+"} applied to children[0]
  kBinary,     // children[0] name children[1]; name in {+ - * / // % ** ~ and or}
  kCompare,    // children[0] ops[0] children[1] ops[1] children[2] ... (chained)
  kCondition,  // children[0] if children[1] else children[2] (children[2] may be null)
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  int line = 0;
  int depth = 1;  // 1 + the deepest child's depth; bounded by the parser
  std::string name;
  Value literal;
  std::vector<ExprPtr> children;
  std::vector<Arg> args;
  std::vector<std::string> ops;  // kCompare: ==, !=, <, <=, >, >=, in, notin
  bool negated = false;
};

struct Stmt;
using Body = std::vector<Stmt>;

// An assignment target: names (`a` or `a, b`), or one namespace attribute (`ns.attr`).
struct Target {
  std::vector<std::string> names;
  std::string attribute;  // set: `names[0].attribute`
  bool is_tuple = false;  // `a, b` or `(a,)`: unpack even a single name
};

struct TextStmt {
  std::string text;
};
struct OutputStmt {
  ExprPtr expr;
};
struct IfStmt {
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, elif...
  Body else_body;
};
struct ForStmt {
  Target target;
  ExprPtr iterable;
  ExprPtr condition;  // `for x in xs if cond`; may be null
  Body body;
  Body else_body;
};
struct SetStmt {
  Target target;
  ExprPtr value;
};
struct SetBlockStmt {
  Target target;
  ExprPtr filter;  // kFilter chain over a null operand; may be null
  Body body;
};

struct Param {
  std::string name;
  ExprPtr default_value;  // may be null
};
struct MacroDef {
  std::string name;
  int line = 0;
  std::vector<Param> params;
  Body body;
  // Whether the body names these, which lets the call accept extra arguments.
  bool uses_varargs = false;
  bool uses_kwargs = false;
  bool uses_caller = false;
};
struct MacroStmt {
  std::shared_ptr<const MacroDef> macro;
};
struct CallBlockStmt {
  ExprPtr call;                            // a kCall expression
  std::shared_ptr<const MacroDef> caller;  // its body renders on caller(...)
};
struct FilterBlockStmt {
  ExprPtr filter;  // kFilter chain over a null operand
  Body body;
};
struct WithStmt {
  std::vector<std::pair<Target, ExprPtr>> assignments;
  Body body;
};
struct LoopControlStmt {
  bool is_break = false;
};

struct Stmt {
  int line = 0;
  std::variant<TextStmt, OutputStmt, IfStmt, ForStmt, SetStmt, SetBlockStmt, MacroStmt,
               CallBlockStmt, FilterBlockStmt, WithStmt, LoopControlStmt>
      node;
};

}  // namespace loom::jinja
