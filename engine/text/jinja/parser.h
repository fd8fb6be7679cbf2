// Jinja parser: tokens -> statement tree, following jinja2's grammar and precedence.
//
// Precedence, loosest first: `x if c else y`; or; and; not; comparisons (==, !=, <, <=,
// >, >=, in, not in; chained); + -; ~; * / // %; ** (left-associative, as in jinja2);
// unary - +; then postfix `.attr`, `[i]`, `[a:b:c]`, `(args)`, and `| filter`,
// `is test` (so `-x | abs` filters `-x`, and `not x is defined` negates the test).
//
// Tags: if/elif/else, for (with `if` filter, else; loop.*), set (plain, tuple, namespace
// attribute, block form with filters), macro, call (with caller args), filter, with,
// break/continue, raw, and transformers' generation/endgeneration (rendered as its
// body). include, import, extends, block and unknown tags are errors naming the tag.
// Filter and test names are checked here, so `x | wordwrap` fails to parse with
// "NAME:LINE: unsupported filter 'wordwrap'".
#pragma once

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/text/jinja/ast.h"
#include "engine/text/jinja/lexer.h"

namespace loom::jinja {

// Expression trees are at most this deep (operator, filter and attribute chains).
inline constexpr int kMaxExpressionDepth = 128;
// Nested sub-expressions (parentheses, brackets, arguments, `not`/`-` prefixes, `else`
// chains) the parser recurses into; about four per level of parentheses. This bounds
// the parser's stack to roughly 150 KiB in an optimized build.
inline constexpr int kMaxParseRecursion = 200;
// Blocks (if/for/macro/...) nest at most this deep.
inline constexpr int kMaxBlockDepth = 64;

// Errors: InvalidArgument "NAME:LINE: message" for any syntax error, unsupported tag,
// filter or test, or nesting past the limits above.
absl::StatusOr<Body> Parse(std::vector<Token> tokens, std::string_view name);

}  // namespace loom::jinja
