// Expression parsing: jinja2's parse_tuple .. parse_primary, one method per level.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/text/jinja/filters.h"
#include "engine/text/jinja/parser.h"
#include "engine/text/jinja/parser_internal.h"
#include "engine/text/jinja/predicates.h"

namespace loom::jinja {
namespace {

bool IsCompareOp(const Token& t) {
  return t.kind == TokenKind::kOperator && (t.text == "==" || t.text == "!=" || t.text == "<" ||
                                            t.text == "<=" || t.text == ">" || t.text == ">=");
}

}  // namespace

absl::StatusOr<ExprPtr> Parser::MakeNode(ExprKind kind, int line, std::vector<ExprPtr> children,
                                         std::string name) {
  auto node = std::make_unique<Expr>();
  node->kind = kind;
  node->line = line;
  node->name = std::move(name);
  for (const ExprPtr& child : children) {
    if (child != nullptr) node->depth = std::max(node->depth, child->depth + 1);
  }
  node->children = std::move(children);
  if (node->depth > kMaxExpressionDepth) {
    return Error(line, absl::StrCat("expression nests deeper than ", kMaxExpressionDepth));
  }
  if (kind == ExprKind::kName) {
    for (MacroDef* macro : open_macros_) {
      macro->uses_varargs = macro->uses_varargs || node->name == "varargs";
      macro->uses_kwargs = macro->uses_kwargs || node->name == "kwargs";
      macro->uses_caller = macro->uses_caller || node->name == "caller";
    }
  }
  return node;
}

absl::StatusOr<ExprPtr> Parser::ParseTuple(bool with_condexpr, bool explicit_parentheses,
                                           std::string_view extra_end_name) {
  const int line = Peek().line;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) {
      if (absl::Status s = ExpectOp(","); !s.ok()) return s;
    }
    const TokenKind kind = Peek().kind;
    if (kind == TokenKind::kVariableEnd || kind == TokenKind::kBlockEnd || AtOp(")") ||
        (!extra_end_name.empty() && AtName(extra_end_name))) {
      break;
    }
    absl::StatusOr<ExprPtr> item = ParseExpression(with_condexpr);
    if (!item.ok()) return item.status();
    items.push_back(*std::move(item));
    if (!AtOp(",")) break;
    is_tuple = true;
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items[0]);
    if (!explicit_parentheses) return Unexpected("an expression");
  }
  return MakeNode(ExprKind::kTuple, line, std::move(items));
}

absl::StatusOr<ExprPtr> Parser::ParseExpression(bool with_condexpr) {
  DepthGuard guard(this);
  if (absl::Status s = CheckRecursion(); !s.ok()) return s;
  return with_condexpr ? ParseCondExpr() : ParseOr();
}

absl::StatusOr<ExprPtr> Parser::ParseCondExpr() {
  DepthGuard guard(this);
  if (absl::Status s = CheckRecursion(); !s.ok()) return s;
  const int line = Peek().line;
  absl::StatusOr<ExprPtr> expr = ParseOr();
  if (!expr.ok()) return expr;
  while (SkipName("if")) {
    absl::StatusOr<ExprPtr> condition = ParseOr();
    if (!condition.ok()) return condition;
    ExprPtr otherwise;
    if (SkipName("else")) {
      absl::StatusOr<ExprPtr> e = ParseCondExpr();
      if (!e.ok()) return e;
      otherwise = *std::move(e);
    }
    std::vector<ExprPtr> children;
    children.push_back(*std::move(expr));
    children.push_back(*std::move(condition));
    children.push_back(std::move(otherwise));
    expr = MakeNode(ExprKind::kCondition, line, std::move(children));
    if (!expr.ok()) return expr;
  }
  return expr;
}

absl::StatusOr<ExprPtr> Parser::ParseOr() {
  absl::StatusOr<ExprPtr> left = ParseAnd();
  while (left.ok() && AtName("or")) {
    const int line = Next().line;
    absl::StatusOr<ExprPtr> right = ParseAnd();
    if (!right.ok()) return right;
    std::vector<ExprPtr> children;
    children.push_back(*std::move(left));
    children.push_back(*std::move(right));
    left = MakeNode(ExprKind::kBinary, line, std::move(children), "or");
  }
  return left;
}

absl::StatusOr<ExprPtr> Parser::ParseAnd() {
  absl::StatusOr<ExprPtr> left = ParseNot();
  while (left.ok() && AtName("and")) {
    const int line = Next().line;
    absl::StatusOr<ExprPtr> right = ParseNot();
    if (!right.ok()) return right;
    std::vector<ExprPtr> children;
    children.push_back(*std::move(left));
    children.push_back(*std::move(right));
    left = MakeNode(ExprKind::kBinary, line, std::move(children), "and");
  }
  return left;
}

absl::StatusOr<ExprPtr> Parser::ParseNot() {
  DepthGuard guard(this);
  if (absl::Status s = CheckRecursion(); !s.ok()) return s;
  if (AtName("not")) {
    const int line = Next().line;
    absl::StatusOr<ExprPtr> operand = ParseNot();
    if (!operand.ok()) return operand;
    std::vector<ExprPtr> children;
    children.push_back(*std::move(operand));
    return MakeNode(ExprKind::kUnary, line, std::move(children), "not");
  }
  return ParseCompare();
}

absl::StatusOr<ExprPtr> Parser::ParseCompare() {
  const int line = Peek().line;
  absl::StatusOr<ExprPtr> first = ParseMath1();
  if (!first.ok()) return first;
  std::vector<ExprPtr> children;
  std::vector<std::string> ops;
  children.push_back(*std::move(first));
  while (true) {
    std::string op;
    if (IsCompareOp(Peek())) {
      op = Next().text;
    } else if (AtName("in")) {
      Next();
      op = "in";
    } else if (AtName("not") && AtName("in", 1)) {
      Next();
      Next();
      op = "notin";
    } else {
      break;
    }
    absl::StatusOr<ExprPtr> operand = ParseMath1();
    if (!operand.ok()) return operand;
    children.push_back(*std::move(operand));
    ops.push_back(std::move(op));
  }
  if (ops.empty()) return std::move(children[0]);
  absl::StatusOr<ExprPtr> node = MakeNode(ExprKind::kCompare, line, std::move(children));
  if (node.ok()) (*node)->ops = std::move(ops);
  return node;
}

absl::StatusOr<ExprPtr> Parser::ParseMath1() {
  absl::StatusOr<ExprPtr> left = ParseConcat();
  while (left.ok() && (AtOp("+") || AtOp("-"))) {
    const Token& op = Next();
    const int line = op.line;
    std::string name = op.text;
    absl::StatusOr<ExprPtr> right = ParseConcat();
    if (!right.ok()) return right;
    std::vector<ExprPtr> children;
    children.push_back(*std::move(left));
    children.push_back(*std::move(right));
    left = MakeNode(ExprKind::kBinary, line, std::move(children), std::move(name));
  }
  return left;
}

absl::StatusOr<ExprPtr> Parser::ParseConcat() {
  absl::StatusOr<ExprPtr> left = ParseMath2();
  while (left.ok() && AtOp("~")) {
    const int line = Next().line;
    absl::StatusOr<ExprPtr> right = ParseMath2();
    if (!right.ok()) return right;
    std::vector<ExprPtr> children;
    children.push_back(*std::move(left));
    children.push_back(*std::move(right));
    left = MakeNode(ExprKind::kBinary, line, std::move(children), "~");
  }
  return left;
}

absl::StatusOr<ExprPtr> Parser::ParseMath2() {
  absl::StatusOr<ExprPtr> left = ParsePow();
  while (left.ok() && (AtOp("*") || AtOp("/") || AtOp("//") || AtOp("%"))) {
    const Token& op = Next();
    const int line = op.line;
    std::string name = op.text;
    absl::StatusOr<ExprPtr> right = ParsePow();
    if (!right.ok()) return right;
    std::vector<ExprPtr> children;
    children.push_back(*std::move(left));
    children.push_back(*std::move(right));
    left = MakeNode(ExprKind::kBinary, line, std::move(children), std::move(name));
  }
  return left;
}

absl::StatusOr<ExprPtr> Parser::ParsePow() {
  absl::StatusOr<ExprPtr> left = ParseUnary(/*with_filter=*/true);
  while (left.ok() && AtOp("**")) {
    const int line = Next().line;
    absl::StatusOr<ExprPtr> right = ParseUnary(/*with_filter=*/true);
    if (!right.ok()) return right;
    std::vector<ExprPtr> children;
    children.push_back(*std::move(left));
    children.push_back(*std::move(right));
    left = MakeNode(ExprKind::kBinary, line, std::move(children), "**");
  }
  return left;
}

absl::StatusOr<ExprPtr> Parser::ParseUnary(bool with_filter) {
  DepthGuard guard(this);
  if (absl::Status s = CheckRecursion(); !s.ok()) return s;
  absl::StatusOr<ExprPtr> node;
  if (AtOp("-") || AtOp("+")) {
    const Token& op = Next();
    const int line = op.line;
    std::string name = op.text;
    absl::StatusOr<ExprPtr> operand = ParseUnary(/*with_filter=*/false);
    if (!operand.ok()) return operand;
    std::vector<ExprPtr> children;
    children.push_back(*std::move(operand));
    node = MakeNode(ExprKind::kUnary, line, std::move(children), std::move(name));
  } else {
    node = ParsePrimary();
  }
  if (!node.ok()) return node;
  node = ParsePostfix(*std::move(node));
  if (!node.ok() || !with_filter) return node;
  return ParseFilterExpr(*std::move(node));
}

absl::StatusOr<ExprPtr> Parser::ParsePrimary() {
  const Token& token = Peek();
  const int line = token.line;
  switch (token.kind) {
    case TokenKind::kName: {
      const std::string name = Next().text;
      auto literal = [&](Value v) -> absl::StatusOr<ExprPtr> {
        absl::StatusOr<ExprPtr> node = MakeNode(ExprKind::kLiteral, line, {});
        if (node.ok()) (*node)->literal = std::move(v);
        return node;
      };
      if (name == "true" || name == "True") return literal(Value::Bool(true));
      if (name == "false" || name == "False") return literal(Value::Bool(false));
      if (name == "none" || name == "None") return literal(Value::MakeNone());
      return MakeNode(ExprKind::kName, line, {}, name);
    }
    case TokenKind::kString: {
      std::string text;
      while (Peek().kind == TokenKind::kString) text += Next().text;  // 'a' 'b' -> 'ab'
      absl::StatusOr<ExprPtr> node = MakeNode(ExprKind::kLiteral, line, {});
      if (node.ok()) (*node)->literal = Value::String(std::move(text));
      return node;
    }
    case TokenKind::kInteger:
    case TokenKind::kFloat: {
      const Token& number = Next();
      absl::StatusOr<ExprPtr> node = MakeNode(ExprKind::kLiteral, line, {});
      if (node.ok()) {
        (*node)->literal = number.kind == TokenKind::kInteger ? Value::Int(number.int_value)
                                                              : Value::Float(number.float_value);
      }
      return node;
    }
    case TokenKind::kOperator:
      if (token.text == "(") {
        Next();
        absl::StatusOr<ExprPtr> inner = ParseTuple(/*with_condexpr=*/true, true);
        if (!inner.ok()) return inner;
        if (absl::Status s = ExpectOp(")"); !s.ok()) return s;
        return inner;
      }
      if (token.text == "[") return ParseList(line);
      if (token.text == "{") return ParseDict(line);
      break;
    default:
      break;
  }
  return Unexpected("an expression");
}

absl::StatusOr<ExprPtr> Parser::ParseList(int line) {
  Next();  // [
  std::vector<ExprPtr> items;
  while (!AtOp("]")) {
    if (!items.empty()) {
      if (absl::Status s = ExpectOp(","); !s.ok()) return s;
      if (AtOp("]")) break;
    }
    absl::StatusOr<ExprPtr> item = ParseExpression();
    if (!item.ok()) return item;
    items.push_back(*std::move(item));
  }
  Next();  // ]
  return MakeNode(ExprKind::kList, line, std::move(items));
}

absl::StatusOr<ExprPtr> Parser::ParseDict(int line) {
  Next();  // {
  std::vector<ExprPtr> items;
  while (!AtOp("}")) {
    if (!items.empty()) {
      if (absl::Status s = ExpectOp(","); !s.ok()) return s;
      if (AtOp("}")) break;
    }
    absl::StatusOr<ExprPtr> key = ParseExpression();
    if (!key.ok()) return key;
    if (absl::Status s = ExpectOp(":"); !s.ok()) return s;
    absl::StatusOr<ExprPtr> value = ParseExpression();
    if (!value.ok()) return value;
    items.push_back(*std::move(key));
    items.push_back(*std::move(value));
  }
  Next();  // }
  return MakeNode(ExprKind::kDict, line, std::move(items));
}

absl::StatusOr<ExprPtr> Parser::ParsePostfix(ExprPtr node) {
  while (true) {
    if (AtOp(".") || AtOp("[")) {
      absl::StatusOr<ExprPtr> next = ParseSubscript(std::move(node));
      if (!next.ok()) return next;
      node = *std::move(next);
    } else if (AtOp("(")) {
      const int line = Peek().line;
      std::vector<ExprPtr> children;
      children.push_back(std::move(node));
      absl::StatusOr<ExprPtr> call = MakeNode(ExprKind::kCall, line, std::move(children));
      if (!call.ok()) return call;
      if (absl::Status s = ParseCallArgs(&(*call)->args); !s.ok()) return s;
      node = *std::move(call);
    } else {
      return node;
    }
  }
}

absl::StatusOr<ExprPtr> Parser::ParseFilterExpr(ExprPtr node) {
  while (true) {
    absl::StatusOr<ExprPtr> next;
    if (AtOp("|")) {
      next = ParseFilter(std::move(node), /*start_inline=*/false);
    } else if (AtName("is")) {
      next = ParseTest(std::move(node));
    } else if (AtOp("(")) {
      next = ParsePostfix(std::move(node));
    } else {
      return node;
    }
    if (!next.ok()) return next;
    node = *std::move(next);
  }
}

absl::StatusOr<ExprPtr> Parser::ParseSubscript(ExprPtr node) {
  const Token& token = Next();
  const int line = token.line;
  std::vector<ExprPtr> children;
  children.push_back(std::move(node));
  if (token.text == ".") {
    if (Peek().kind == TokenKind::kName) {
      return MakeNode(ExprKind::kGetAttr, line, std::move(children), Next().text);
    }
    if (Peek().kind == TokenKind::kInteger) {
      absl::StatusOr<ExprPtr> index = MakeNode(ExprKind::kLiteral, line, {});
      if (!index.ok()) return index;
      (*index)->literal = Value::Int(Next().int_value);
      children.push_back(*std::move(index));
      return MakeNode(ExprKind::kGetItem, line, std::move(children));
    }
    return Unexpected("an attribute name");
  }
  // '['
  absl::StatusOr<ExprPtr> key = ParseSubscribed();
  if (!key.ok()) return key;
  if (AtOp(",")) return Error(Peek().line, "unsupported: tuple subscripts");
  if (absl::Status s = ExpectOp("]"); !s.ok()) return s;
  if ((*key)->kind == ExprKind::kSlice) {
    (*key)->children[0] = std::move(children[0]);
    (*key)->depth = std::max((*key)->depth, (*key)->children[0]->depth + 1);
    if ((*key)->depth > kMaxExpressionDepth) {
      return Error(line, absl::StrCat("expression nests deeper than ", kMaxExpressionDepth));
    }
    return key;
  }
  children.push_back(*std::move(key));
  return MakeNode(ExprKind::kGetItem, line, std::move(children));
}

// An index expression or a slice; a slice comes back as kSlice with children[0] null.
absl::StatusOr<ExprPtr> Parser::ParseSubscribed() {
  const int line = Peek().line;
  std::vector<ExprPtr> parts(4);  // object, start, stop, step
  if (!AtOp(":")) {
    absl::StatusOr<ExprPtr> start = ParseExpression();
    if (!start.ok()) return start;
    if (!AtOp(":")) return start;
    parts[1] = *std::move(start);
  }
  Next();  // :
  if (!AtOp("]") && !AtOp(",") && !AtOp(":")) {
    absl::StatusOr<ExprPtr> stop = ParseExpression();
    if (!stop.ok()) return stop;
    parts[2] = *std::move(stop);
  }
  if (SkipOp(":") && !AtOp("]") && !AtOp(",")) {
    absl::StatusOr<ExprPtr> step = ParseExpression();
    if (!step.ok()) return step;
    parts[3] = *std::move(step);
  }
  return MakeNode(ExprKind::kSlice, line, std::move(parts));
}

absl::Status Parser::ParseCallArgs(std::vector<Arg>* args) {
  if (absl::Status s = ExpectOp("("); !s.ok()) return s;
  bool seen_keyword = false;
  while (!AtOp(")")) {
    if (!args->empty()) {
      if (absl::Status s = ExpectOp(","); !s.ok()) return s;
      if (AtOp(")")) break;
    }
    if (AtOp("*") || AtOp("**"))
      return Error(Peek().line, "unsupported: *args / **kwargs in calls");
    Arg arg;
    if (Peek().kind == TokenKind::kName && AtOp("=", 1)) {
      arg.name = Next().text;
      Next();
      seen_keyword = true;
    } else if (seen_keyword) {
      return Error(Peek().line, "positional argument follows keyword argument");
    }
    absl::StatusOr<ExprPtr> value = ParseExpression();
    if (!value.ok()) return value.status();
    arg.value = *std::move(value);
    args->push_back(std::move(arg));
  }
  Next();  // )
  return absl::OkStatus();
}

absl::StatusOr<ExprPtr> Parser::ParseFilter(ExprPtr node, bool start_inline) {
  while (AtOp("|") || start_inline) {
    if (!start_inline) Next();
    start_inline = false;
    const int line = Peek().line;
    absl::StatusOr<std::string> name = ExpectIdentifier("a filter name");
    if (!name.ok()) return name.status();
    if (!IsKnownFilter(*name)) return Error(line, absl::StrCat("unsupported filter '", *name, "'"));
    std::vector<ExprPtr> children;
    children.push_back(std::move(node));
    absl::StatusOr<ExprPtr> filter =
        MakeNode(ExprKind::kFilter, line, std::move(children), *std::move(name));
    if (!filter.ok()) return filter;
    if (AtOp("(")) {
      if (absl::Status s = ParseCallArgs(&(*filter)->args); !s.ok()) return s;
    }
    node = *std::move(filter);
  }
  return node;
}

absl::StatusOr<ExprPtr> Parser::ParseTest(ExprPtr node) {
  const int line = Next().line;  // is
  const bool negated = SkipName("not");
  absl::StatusOr<std::string> name = ExpectIdentifier("a test name");
  if (!name.ok()) return name.status();
  if (!IsKnownTest(*name)) return Error(line, absl::StrCat("unsupported test '", *name, "'"));
  std::vector<ExprPtr> children;
  children.push_back(std::move(node));
  absl::StatusOr<ExprPtr> test = MakeNode(ExprKind::kTest, line, std::move(children), *name);
  if (!test.ok()) return test;
  (*test)->negated = negated;
  const Token& next = Peek();
  if (AtOp("(")) {
    if (absl::Status s = ParseCallArgs(&(*test)->args); !s.ok()) return s;
  } else if ((next.kind == TokenKind::kName || next.kind == TokenKind::kString ||
              next.kind == TokenKind::kInteger || next.kind == TokenKind::kFloat || AtOp("[") ||
              AtOp("{")) &&
             !AtName("else") && !AtName("or") && !AtName("and")) {
    if (AtName("is")) return Error(next.line, "tests cannot be chained with 'is'");
    absl::StatusOr<ExprPtr> arg = ParsePrimary();
    if (!arg.ok()) return arg;
    arg = ParsePostfix(*std::move(arg));
    if (!arg.ok()) return arg;
    (*test)->args.push_back(Arg{"", *std::move(arg)});
  }
  return test;
}

}  // namespace loom::jinja
