// Jinja lexer: template source -> tokens, with the whitespace rules transformers uses.
//
// transformers renders chat templates with jinja2's defaults plus trim_blocks=True and
// lstrip_blocks=True, so this lexer applies exactly those rules:
//   - newlines (\r\n, \r, \n) are normalized to \n and one trailing newline is dropped;
//   - `{%-`, `{{-`, `{#-` strip all whitespace before the tag, `-%}`, `-}}`, `-#}` all
//     whitespace after it;
//   - trim_blocks: the first \n after `%}` or `#}` is dropped (not after `+%}`);
//   - lstrip_blocks: spaces and tabs between a line start and `{%` or `{#` are dropped
//     (not before `{%+`, and never before `{{`);
//   - `{% raw %}...{% endraw %}` is text; comments produce nothing.
// Whitespace means Python's str.isspace() set, as jinja2's regexes use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace loom::jinja {

enum class TokenKind {
  kText,           // template data; `text` is the (already stripped) data
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,           // identifier; `text`
  kString,         // string literal; `text` is the unescaped value
  kInteger,        // `int_value`
  kFloat,          // `float_value`
  kOperator,  // `text` is the operator: + - * / // % ** ~ ( ) [ ] { } == != < <= > >= = . : | , ;
  kEnd,       // end of the template (always the last token)
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1;  // 1-based line of the token's first character in the source
};

// Tokenizes `source`. `name` prefixes error messages ("name:LINE: message").
// Errors: InvalidArgument for source that is not valid UTF-8, an unterminated tag,
// comment, raw block or string literal, an unexpected character, unbalanced brackets
// inside a tag, or a bad escape or integer literal.
absl::StatusOr<std::vector<Token>> Lex(std::string_view source, std::string_view name);

}  // namespace loom::jinja
