#include "engine/text/jinja/parser.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/text/jinja/parser_internal.h"

namespace loom::jinja {

// --- tokens ---------------------------------------------------------------------------

const Token& Parser::Peek(size_t ahead) const {
  const size_t i = std::min(pos_ + ahead, tokens_.size() - 1);  // the last token is kEnd
  return tokens_[i];
}

const Token& Parser::Next() {
  const Token& token = Peek();
  if (pos_ + 1 < tokens_.size()) ++pos_;
  return token;
}

bool Parser::AtOp(std::string_view op, size_t ahead) const {
  const Token& t = Peek(ahead);
  return t.kind == TokenKind::kOperator && t.text == op;
}

bool Parser::AtName(std::string_view name, size_t ahead) const {
  const Token& t = Peek(ahead);
  return t.kind == TokenKind::kName && t.text == name;
}

bool Parser::SkipOp(std::string_view op) {
  if (!AtOp(op)) return false;
  Next();
  return true;
}

bool Parser::SkipName(std::string_view name) {
  if (!AtName(name)) return false;
  Next();
  return true;
}

absl::Status Parser::ExpectOp(std::string_view op) {
  if (SkipOp(op)) return absl::OkStatus();
  return Unexpected(absl::StrCat("'", std::string(op), "'"));
}

absl::StatusOr<std::string> Parser::ExpectIdentifier(std::string_view what) {
  if (Peek().kind != TokenKind::kName) return Unexpected(what);
  return Next().text;
}

absl::Status Parser::ExpectBlockEnd(std::string_view tag) {
  if (Peek().kind == TokenKind::kBlockEnd) {
    Next();
    return absl::OkStatus();
  }
  return Unexpected(absl::StrCat("end of '", std::string(tag), "' tag ('%}')"));
}

absl::Status Parser::Error(int line, std::string_view message) const {
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(name_), ":", line, ": ", std::string(message)));
}

absl::Status Parser::Unexpected(std::string_view expected) const {
  return Error(Peek().line,
               absl::StrCat("expected ", std::string(expected), ", got ", Describe(Peek())));
}

std::string Parser::Describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kText:
      return "template text";
    case TokenKind::kVariableBegin:
      return "'{{'";
    case TokenKind::kVariableEnd:
      return "'}}'";
    case TokenKind::kBlockBegin:
      return "'{%'";
    case TokenKind::kBlockEnd:
      return "'%}'";
    case TokenKind::kName:
    case TokenKind::kOperator:
      return absl::StrCat("'", token.text, "'");
    case TokenKind::kString:
      return "a string";
    case TokenKind::kInteger:
    case TokenKind::kFloat:
      return absl::StrCat("number ", token.text);
    case TokenKind::kEnd:
      return "end of template";
  }
  return "token";
}

absl::Status Parser::CheckRecursion() const {
  if (recursion_ > kMaxParseRecursion) {
    return Error(Peek().line, "expression nests too deeply (parentheses, brackets or prefixes)");
  }
  return absl::OkStatus();
}

// --- statements -----------------------------------------------------------------------

absl::StatusOr<Body> Parser::ParseTemplate() { return ParseBody({}, "", 0); }

absl::StatusOr<Body> Parser::ParseBody(std::initializer_list<std::string_view> end_tags,
                                       std::string_view open_tag, int open_line) {
  if (block_depth_ >= kMaxBlockDepth) {
    return Error(open_line, absl::StrCat("blocks nest deeper than ", kMaxBlockDepth));
  }
  ++block_depth_;
  Body body;
  absl::Status status;
  while (status.ok()) {
    const Token& token = Peek();
    if (token.kind == TokenKind::kEnd) {
      if (end_tags.size() == 0) break;
      status = Error(open_line,
                     absl::StrCat("unterminated '", std::string(open_tag), "' block (expected '{% ",
                                  std::string(*std::prev(end_tags.end())), " %}')"));
      break;
    }
    if (token.kind == TokenKind::kText) {
      body.push_back(Stmt{token.line, TextStmt{token.text}});
      Next();
      continue;
    }
    if (token.kind == TokenKind::kVariableBegin) {
      Next();
      const int line = Peek().line;
      absl::StatusOr<ExprPtr> expr = ParseTuple(/*with_condexpr=*/true, false);
      if (!expr.ok()) {
        status = expr.status();
        break;
      }
      if (Peek().kind != TokenKind::kVariableEnd) {
        status = Unexpected("end of print statement ('}}')");
        break;
      }
      Next();
      body.push_back(Stmt{line, OutputStmt{*std::move(expr)}});
      continue;
    }
    if (token.kind != TokenKind::kBlockBegin) {
      status = Unexpected("template text, '{{' or '{%'");
      break;
    }
    Next();
    if (Peek().kind == TokenKind::kName &&
        std::find(end_tags.begin(), end_tags.end(), Peek().text) != end_tags.end()) {
      break;
    }
    status = ParseStatement(open_tag, end_tags, &body);
  }
  --block_depth_;
  if (!status.ok()) return status;
  return body;
}

absl::Status Parser::FinishBlock(std::string_view end_tag) {
  Next();  // the end tag's name
  return ExpectBlockEnd(end_tag);
}

absl::Status Parser::ParseStatement(std::string_view open_tag,
                                    std::initializer_list<std::string_view> end_tags, Body* out) {
  const Token& token = Peek();
  const int line = token.line;
  if (token.kind != TokenKind::kName) return Unexpected("a tag name");
  const std::string tag = token.text;
  Next();
  if (tag == "if") return ParseIf(line, out);
  if (tag == "for") return ParseFor(line, out);
  if (tag == "set") return ParseSet(line, out);
  if (tag == "macro") return ParseMacro(line, out);
  if (tag == "call") return ParseCallBlock(line, out);
  if (tag == "filter") return ParseFilterBlock(line, out);
  if (tag == "with") return ParseWith(line, out);
  if (tag == "break" || tag == "continue") {
    if (loop_depth_ == 0) return Error(line, absl::StrCat("'", tag, "' outside of a loop"));
    out->push_back(Stmt{line, LoopControlStmt{tag == "break"}});
    return ExpectBlockEnd(tag);
  }
  if (tag == "generation") {  // transformers' AssistantTracker: render the body as is
    if (absl::Status s = ExpectBlockEnd(tag); !s.ok()) return s;
    absl::StatusOr<Body> body = ParseBody({"endgeneration"}, tag, line);
    if (!body.ok()) return body.status();
    for (Stmt& stmt : *body) out->push_back(std::move(stmt));
    return FinishBlock("endgeneration");
  }
  if (end_tags.size() > 0 && (tag.rfind("end", 0) == 0 || tag == "elif" || tag == "else")) {
    std::vector<std::string> quoted;
    for (std::string_view t : end_tags) quoted.push_back(absl::StrCat("'", std::string(t), "'"));
    return Error(line, absl::StrCat("unexpected '", tag, "' inside '", std::string(open_tag),
                                    "' block (expected ", absl::StrJoin(quoted, " or "), ")"));
  }
  return Error(line, absl::StrCat("unsupported tag '", tag, "'"));
}

absl::Status Parser::ParseIf(int line, Body* out) {
  IfStmt node;
  std::string tag = "if";
  while (true) {
    absl::StatusOr<ExprPtr> condition = ParseTuple(/*with_condexpr=*/false, false);
    if (!condition.ok()) return condition.status();
    if (absl::Status s = ExpectBlockEnd(tag); !s.ok()) return s;
    absl::StatusOr<Body> body = ParseBody({"elif", "else", "endif"}, "if", line);
    if (!body.ok()) return body.status();
    node.branches.emplace_back(*std::move(condition), *std::move(body));
    tag = Next().text;  // elif, else or endif
    if (tag != "elif") break;
  }
  if (tag == "else") {
    if (absl::Status s = ExpectBlockEnd("else"); !s.ok()) return s;
    absl::StatusOr<Body> body = ParseBody({"endif"}, "if", line);
    if (!body.ok()) return body.status();
    node.else_body = *std::move(body);
    Next();
  }
  out->push_back(Stmt{line, std::move(node)});
  return ExpectBlockEnd("endif");
}

absl::StatusOr<Target> Parser::ParseTarget(bool with_namespace, std::string_view stop_name) {
  Target target;
  if (with_namespace && Peek().kind == TokenKind::kName && AtOp(".", 1)) {
    target.names.push_back(Next().text);
    Next();
    absl::StatusOr<std::string> attribute = ExpectIdentifier("an attribute name");
    if (!attribute.ok()) return attribute.status();
    target.attribute = *std::move(attribute);
    return target;
  }
  const bool parenthesized = SkipOp("(");
  while (true) {
    absl::StatusOr<std::string> name = ExpectIdentifier("a variable name");
    if (!name.ok()) return name.status();
    target.names.push_back(*std::move(name));
    if (!SkipOp(",")) break;
    target.is_tuple = true;
    if ((parenthesized && AtOp(")")) || (!stop_name.empty() && AtName(stop_name))) {
      break;
    }
  }
  if (parenthesized) {
    if (absl::Status s = ExpectOp(")"); !s.ok()) return s;
  }
  return target;
}

absl::Status Parser::ParseFor(int line, Body* out) {
  ForStmt node;
  absl::StatusOr<Target> target = ParseTarget(/*with_namespace=*/false, "in");
  if (!target.ok()) return target.status();
  node.target = *std::move(target);
  if (!SkipName("in")) return Unexpected("'in'");
  absl::StatusOr<ExprPtr> iterable = ParseTuple(/*with_condexpr=*/false, false, "recursive");
  if (!iterable.ok()) return iterable.status();
  node.iterable = *std::move(iterable);
  if (SkipName("if")) {
    absl::StatusOr<ExprPtr> condition = ParseExpression();
    if (!condition.ok()) return condition.status();
    node.condition = *std::move(condition);
  }
  if (AtName("recursive")) return Error(Peek().line, "unsupported: recursive for loops");
  if (absl::Status s = ExpectBlockEnd("for"); !s.ok()) return s;
  ++loop_depth_;
  absl::StatusOr<Body> body = ParseBody({"else", "endfor"}, "for", line);
  --loop_depth_;
  if (!body.ok()) return body.status();
  node.body = *std::move(body);
  if (Next().text == "else") {
    if (absl::Status s = ExpectBlockEnd("else"); !s.ok()) return s;
    absl::StatusOr<Body> else_body = ParseBody({"endfor"}, "for", line);
    if (!else_body.ok()) return else_body.status();
    node.else_body = *std::move(else_body);
    Next();
  }
  out->push_back(Stmt{line, std::move(node)});
  return ExpectBlockEnd("endfor");
}

absl::Status Parser::ParseSet(int line, Body* out) {
  absl::StatusOr<Target> target = ParseTarget(/*with_namespace=*/true, "");
  if (!target.ok()) return target.status();
  if (SkipOp("=")) {
    absl::StatusOr<ExprPtr> value = ParseTuple(/*with_condexpr=*/true, false);
    if (!value.ok()) return value.status();
    out->push_back(Stmt{line, SetStmt{*std::move(target), *std::move(value)}});
    return ExpectBlockEnd("set");
  }
  if (target->is_tuple) return Unexpected("'='");
  SetBlockStmt node;
  node.target = *std::move(target);
  if (AtOp("|")) {
    absl::StatusOr<ExprPtr> filter = ParseFilter(nullptr, /*start_inline=*/false);
    if (!filter.ok()) return filter.status();
    node.filter = *std::move(filter);
  }
  if (absl::Status s = ExpectBlockEnd("set"); !s.ok()) return s;
  absl::StatusOr<Body> body = ParseBody({"endset"}, "set", line);
  if (!body.ok()) return body.status();
  node.body = *std::move(body);
  out->push_back(Stmt{line, std::move(node)});
  return FinishBlock("endset");
}

absl::Status Parser::ParseParams(std::vector<Param>* params) {
  if (absl::Status s = ExpectOp("("); !s.ok()) return s;
  while (!SkipOp(")")) {
    if (!params->empty()) {
      if (absl::Status s = ExpectOp(","); !s.ok()) return s;
      if (SkipOp(")")) break;
    }
    const int line = Peek().line;
    absl::StatusOr<std::string> name = ExpectIdentifier("a parameter name");
    if (!name.ok()) return name.status();
    Param param{*std::move(name), nullptr};
    if (SkipOp("=")) {
      absl::StatusOr<ExprPtr> value = ParseExpression();
      if (!value.ok()) return value.status();
      param.default_value = *std::move(value);
    } else if (!params->empty() && params->back().default_value != nullptr) {
      return Error(line, "non-default argument follows default argument");
    }
    params->push_back(std::move(param));
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseMacro(int line, Body* out) {
  auto macro = std::make_shared<MacroDef>();
  macro->line = line;
  absl::StatusOr<std::string> name = ExpectIdentifier("a macro name");
  if (!name.ok()) return name.status();
  macro->name = *std::move(name);
  if (absl::Status s = ParseParams(&macro->params); !s.ok()) return s;
  if (absl::Status s = ExpectBlockEnd("macro"); !s.ok()) return s;
  const int saved_loop_depth = loop_depth_;
  loop_depth_ = 0;
  open_macros_.push_back(macro.get());
  absl::StatusOr<Body> body = ParseBody({"endmacro"}, "macro", line);
  open_macros_.pop_back();
  loop_depth_ = saved_loop_depth;
  if (!body.ok()) return body.status();
  macro->body = *std::move(body);
  out->push_back(Stmt{line, MacroStmt{std::move(macro)}});
  return FinishBlock("endmacro");
}

absl::Status Parser::ParseCallBlock(int line, Body* out) {
  auto caller = std::make_shared<MacroDef>();
  caller->name = "caller";
  caller->line = line;
  if (AtOp("(")) {
    if (absl::Status s = ParseParams(&caller->params); !s.ok()) return s;
  }
  absl::StatusOr<ExprPtr> call = ParseExpression();
  if (!call.ok()) return call.status();
  if ((*call)->kind != ExprKind::kCall) return Error(line, "expected a call after 'call'");
  if (absl::Status s = ExpectBlockEnd("call"); !s.ok()) return s;
  const int saved_loop_depth = loop_depth_;
  loop_depth_ = 0;
  open_macros_.push_back(caller.get());
  absl::StatusOr<Body> body = ParseBody({"endcall"}, "call", line);
  open_macros_.pop_back();
  loop_depth_ = saved_loop_depth;
  if (!body.ok()) return body.status();
  caller->body = *std::move(body);
  out->push_back(Stmt{line, CallBlockStmt{*std::move(call), std::move(caller)}});
  return FinishBlock("endcall");
}

absl::Status Parser::ParseFilterBlock(int line, Body* out) {
  absl::StatusOr<ExprPtr> filter = ParseFilter(nullptr, /*start_inline=*/true);
  if (!filter.ok()) return filter.status();
  if (absl::Status s = ExpectBlockEnd("filter"); !s.ok()) return s;
  absl::StatusOr<Body> body = ParseBody({"endfilter"}, "filter", line);
  if (!body.ok()) return body.status();
  out->push_back(Stmt{line, FilterBlockStmt{*std::move(filter), *std::move(body)}});
  return FinishBlock("endfilter");
}

absl::Status Parser::ParseWith(int line, Body* out) {
  WithStmt node;
  while (Peek().kind != TokenKind::kBlockEnd) {
    if (!node.assignments.empty()) {
      if (absl::Status s = ExpectOp(","); !s.ok()) return s;
    }
    absl::StatusOr<Target> target = ParseTarget(/*with_namespace=*/false, "");
    if (!target.ok()) return target.status();
    if (absl::Status s = ExpectOp("="); !s.ok()) return s;
    absl::StatusOr<ExprPtr> value = ParseExpression();
    if (!value.ok()) return value.status();
    node.assignments.emplace_back(*std::move(target), *std::move(value));
  }
  Next();
  absl::StatusOr<Body> body = ParseBody({"endwith"}, "with", line);
  if (!body.ok()) return body.status();
  node.body = *std::move(body);
  out->push_back(Stmt{line, std::move(node)});
  return FinishBlock("endwith");
}

absl::StatusOr<Body> Parse(std::vector<Token> tokens, std::string_view name) {
  if (tokens.empty() || tokens.back().kind != TokenKind::kEnd) {
    Token end;
    end.kind = TokenKind::kEnd;
    tokens.push_back(std::move(end));
  }
  return Parser(std::move(tokens), name).ParseTemplate();
}

}  // namespace loom::jinja
