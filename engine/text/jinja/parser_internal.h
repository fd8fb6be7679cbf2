// The Parser class behind Parse() (parser.h): statements in parser.cc, expressions in
// expression_parser.cc. Internal to the jinja library.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/text/jinja/ast.h"
#include "engine/text/jinja/lexer.h"

namespace loom::jinja {

class Parser {
 public:
  Parser(std::vector<Token> tokens, std::string_view name)
      : tokens_(std::move(tokens)), name_(name) {}

  absl::StatusOr<Body> ParseTemplate();

 private:
  // Counts recursion into nested constructs; Enter() fails past the limit.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser* parser) : parser_(parser) { ++parser_->recursion_; }
    ~DepthGuard() { --parser_->recursion_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    Parser* parser_;
  };

  // --- tokens -------------------------------------------------------------------------
  const Token& Peek(size_t ahead = 0) const;
  const Token& Next();
  bool AtOp(std::string_view op, size_t ahead = 0) const;
  bool AtName(std::string_view name, size_t ahead = 0) const;
  bool SkipOp(std::string_view op);
  bool SkipName(std::string_view name);
  absl::Status ExpectOp(std::string_view op);
  absl::StatusOr<std::string> ExpectIdentifier(std::string_view what);
  absl::Status ExpectBlockEnd(std::string_view tag);
  absl::Status Error(int line, std::string_view message) const;
  absl::Status Unexpected(std::string_view expected) const;
  static std::string Describe(const Token& token);
  absl::Status CheckRecursion() const;

  // --- statements (parser.cc) ---------------------------------------------------------
  // Parses until `{% TAG` with TAG in `end_tags` (left as the current token). An empty
  // `end_tags` parses to the end of the template.
  absl::StatusOr<Body> ParseBody(std::initializer_list<std::string_view> end_tags,
                                 std::string_view open_tag, int open_line);
  absl::Status ParseStatement(std::string_view open_tag,
                              std::initializer_list<std::string_view> end_tags, Body* out);
  absl::Status ParseIf(int line, Body* out);
  absl::Status ParseFor(int line, Body* out);
  absl::Status ParseSet(int line, Body* out);
  absl::Status ParseMacro(int line, Body* out);
  absl::Status ParseCallBlock(int line, Body* out);
  absl::Status ParseFilterBlock(int line, Body* out);
  absl::Status ParseWith(int line, Body* out);
  absl::StatusOr<Target> ParseTarget(bool with_namespace, std::string_view stop_name);
  absl::Status ParseParams(std::vector<Param>* params);
  // Consumes `{% END %}` after ParseBody stopped at END.
  absl::Status FinishBlock(std::string_view end_tag);

  // --- expressions (expression_parser.cc) ---------------------------------------------
  absl::StatusOr<ExprPtr> MakeNode(ExprKind kind, int line, std::vector<ExprPtr> children,
                                   std::string name = "");
  absl::StatusOr<ExprPtr> ParseTuple(bool with_condexpr, bool explicit_parentheses,
                                     std::string_view extra_end_name = "");
  absl::StatusOr<ExprPtr> ParseExpression(bool with_condexpr = true);
  absl::StatusOr<ExprPtr> ParseCondExpr();
  absl::StatusOr<ExprPtr> ParseOr();
  absl::StatusOr<ExprPtr> ParseAnd();
  absl::StatusOr<ExprPtr> ParseNot();
  absl::StatusOr<ExprPtr> ParseCompare();
  absl::StatusOr<ExprPtr> ParseMath1();
  absl::StatusOr<ExprPtr> ParseConcat();
  absl::StatusOr<ExprPtr> ParseMath2();
  absl::StatusOr<ExprPtr> ParsePow();
  absl::StatusOr<ExprPtr> ParseUnary(bool with_filter);
  absl::StatusOr<ExprPtr> ParsePrimary();
  absl::StatusOr<ExprPtr> ParsePostfix(ExprPtr node);
  absl::StatusOr<ExprPtr> ParseFilterExpr(ExprPtr node);
  absl::StatusOr<ExprPtr> ParseSubscript(ExprPtr node);
  absl::StatusOr<ExprPtr> ParseSubscribed();
  absl::Status ParseCallArgs(std::vector<Arg>* args);
  // `| name(args)` chains; with start_inline the first filter has no leading `|`.
  // `node` may be null (filter blocks and `{% set x | f %}`).
  absl::StatusOr<ExprPtr> ParseFilter(ExprPtr node, bool start_inline);
  absl::StatusOr<ExprPtr> ParseTest(ExprPtr node);
  absl::StatusOr<ExprPtr> ParseList(int line);
  absl::StatusOr<ExprPtr> ParseDict(int line);

  std::vector<Token> tokens_;
  std::string_view name_;
  size_t pos_ = 0;
  int recursion_ = 0;
  int block_depth_ = 0;
  int loop_depth_ = 0;                  // enclosing for loops, for break/continue
  std::vector<MacroDef*> open_macros_;  // macros being parsed, innermost last
};

}  // namespace loom::jinja
