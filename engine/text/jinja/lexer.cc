#include "engine/text/jinja/lexer.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/text/jinja/py_string.h"

namespace loom::jinja {
namespace {

constexpr std::string_view kOperators[] = {"**", "//", "==", "!=", ">=", "<=", "+", "-", "/",
                                           "*",  "%",  "~",  "[",  "]",  "(",  ")", "{", "}",
                                           ">",  "<",  "=",  ".",  ":",  "|",  ",", ";"};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python's str.splitlines() newline handling as jinja2 applies it before lexing.
std::string NormalizeNewlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
  return out;
}

bool IsValidUtf8(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t cp = DecodeCodePoint(s, &pos);
    if (cp >= 0xDC80 && cp <= 0xDCFF) return false;
  }
  return true;
}

class Lexer {
 public:
  Lexer(std::string source, std::string_view name) : src_(std::move(source)), name_(name) {
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') newlines_.push_back(i);
    }
  }

  absl::StatusOr<std::vector<Token>> Run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      const size_t tag = FindTagStart(pos);
      if (tag == std::string::npos) {
        EmitText(pos, src_.substr(pos));
        break;
      }
      const char opener = src_[tag + 1];
      const char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      const std::optional<size_t> raw_body = opener == '%' ? MatchRawBegin(tag) : std::nullopt;
      std::string text = src_.substr(pos, tag - pos);
      ApplyLeftStrip(&text, sign, /*lstrip=*/opener != '{', line_starting);
      EmitText(pos, std::move(text));
      size_t after = tag + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
      absl::StatusOr<size_t> end = 0;
      if (raw_body.has_value()) {
        end = LexRaw(tag, *raw_body);
      } else if (opener == '#') {
        end = SkipComment(tag, after);
      } else {
        end = LexTag(tag, after, opener == '%');
      }
      if (!end.ok()) return end.status();
      pos = *end;
      line_starting = pos > 0 && src_[pos - 1] == '\n';
    }
    Token end_token;
    end_token.kind = TokenKind::kEnd;
    end_token.line = LineAt(src_.size());
    tokens_.push_back(std::move(end_token));
    return std::move(tokens_);
  }

 private:
  int LineAt(size_t offset) const {
    return 1 + static_cast<int>(std::lower_bound(newlines_.begin(), newlines_.end(), offset) -
                                newlines_.begin());
  }

  absl::Status Error(size_t offset, std::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(name_), ":", LineAt(offset), ": ", std::string(message)));
  }

  size_t FindTagStart(size_t pos) const {
    while (true) {
      pos = src_.find('{', pos);
      if (pos == std::string::npos || pos + 1 >= src_.size()) return std::string::npos;
      const char next = src_[pos + 1];
      if (next == '%' || next == '{' || next == '#') return pos;
      ++pos;
    }
  }

  bool StartsWith(size_t pos, std::string_view s) const {
    return src_.compare(pos, s.size(), s) == 0 && pos + s.size() <= src_.size();
  }

  // Length of the Python-whitespace run at `pos`.
  size_t WhitespaceRun(size_t pos) const {
    size_t end = pos;
    while (end < src_.size()) {
      size_t next = end;
      if (!IsPyWhitespace(DecodeCodePoint(src_, &next))) break;
      end = next;
    }
    return end - pos;
  }

  // `{%[-+]? raw (-%}\s*|%})`: the offset after the tag when it is a raw-begin tag.
  std::optional<size_t> MatchRawBegin(size_t tag) const {
    size_t p = tag + 2;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
    p += WhitespaceRun(p);
    if (!StartsWith(p, "raw")) return std::nullopt;
    p += 3;
    p += WhitespaceRun(p);
    if (StartsWith(p, "-%}")) return p + 3 + WhitespaceRun(p + 3);
    if (StartsWith(p, "%}")) return p + 2;
    return std::nullopt;
  }

  // The data before a tag: `-` strips all trailing whitespace; otherwise, with
  // lstrip_blocks, trailing spaces after the last line start are dropped.
  void ApplyLeftStrip(std::string* text, char sign, bool lstrip, bool line_starting) const {
    if (sign == '-') {
      *text = PyStrip(*text, std::nullopt, StripSide::kRight);
      return;
    }
    if (sign == '+' || !lstrip) return;
    const size_t line_pos = text->rfind('\n') == std::string::npos ? 0 : text->rfind('\n') + 1;
    if (line_pos == 0 && !line_starting) return;
    std::string_view tail = std::string_view(*text).substr(line_pos);
    size_t p = 0;
    while (p < tail.size()) {
      if (!IsPyWhitespace(DecodeCodePoint(tail, &p))) return;
    }
    text->resize(line_pos);
  }

  void EmitText(size_t offset, std::string text) {
    if (text.empty()) return;
    Token token;
    token.kind = TokenKind::kText;
    token.text = std::move(text);
    token.line = LineAt(offset);
    tokens_.push_back(std::move(token));
  }

  void Emit(TokenKind kind, size_t offset, std::string text = "") {
    Token token;
    token.kind = kind;
    token.text = std::move(text);
    token.line = LineAt(offset);
    tokens_.push_back(std::move(token));
  }

  // After `#}` or `%}` (trim_blocks), `-#}`/`-%}` (all whitespace) or `+#}`/`+%}` (none).
  // `close` is "#}" or "%}". Returns the offset after the end marker, or nullopt.
  std::optional<size_t> MatchBlockLikeEnd(size_t p, std::string_view close) const {
    if (src_[p] == '+' && StartsWith(p + 1, close)) return p + 1 + close.size();
    if (src_[p] == '-' && StartsWith(p + 1, close)) {
      const size_t after = p + 1 + close.size();
      return after + WhitespaceRun(after);
    }
    if (StartsWith(p, close)) {
      const size_t after = p + close.size();
      return (after < src_.size() && src_[after] == '\n') ? after + 1 : after;
    }
    return std::nullopt;
  }

  absl::StatusOr<size_t> SkipComment(size_t tag, size_t p) const {
    for (; p < src_.size(); ++p) {
      if (auto end = MatchBlockLikeEnd(p, "#}")) return *end;
    }
    return Error(tag, "unterminated comment (missing '#}')");
  }

  absl::StatusOr<size_t> LexRaw(size_t tag, size_t body) {
    for (size_t p = src_.find("{%", body); p != std::string::npos; p = src_.find("{%", p + 1)) {
      size_t q = p + 2;
      const char sign = q < src_.size() ? src_[q] : '\0';
      if (sign == '-' || sign == '+') ++q;
      q += WhitespaceRun(q);
      if (!StartsWith(q, "endraw")) continue;
      q += 6;
      q += WhitespaceRun(q);
      if (q >= src_.size()) break;
      std::optional<size_t> end = MatchBlockLikeEnd(q, "%}");
      if (!end.has_value()) continue;
      std::string text = src_.substr(body, p - body);
      ApplyLeftStrip(&text, sign, /*lstrip=*/true, body > 0 && src_[body - 1] == '\n');
      EmitText(body, std::move(text));
      return *end;
    }
    return Error(tag, "unterminated '{% raw %}' block (missing '{% endraw %}')");
  }

  // Tokens inside `{% ... %}` or `{{ ... }}` starting at `p` (after the opener).
  absl::StatusOr<size_t> LexTag(size_t tag, size_t p, bool block) {
    Emit(block ? TokenKind::kBlockBegin : TokenKind::kVariableBegin, tag);
    std::vector<char> brackets;
    while (true) {
      if (p >= src_.size()) {
        return Error(tag, block ? "unterminated '{%' tag (missing '%}')"
                                : "unterminated '{{' tag (missing '}}')");
      }
      if (brackets.empty()) {
        std::optional<size_t> end;
        if (block) {
          end = MatchBlockLikeEnd(p, "%}");
        } else if (src_[p] == '-' && StartsWith(p + 1, "}}")) {
          end = p + 3 + WhitespaceRun(p + 3);
        } else if (StartsWith(p, "}}")) {
          end = p + 2;
        }
        if (end.has_value()) {
          Emit(block ? TokenKind::kBlockEnd : TokenKind::kVariableEnd, p);
          return *end;
        }
      }
      if (size_t ws = WhitespaceRun(p); ws > 0) {
        p += ws;
        continue;
      }
      absl::StatusOr<size_t> next = LexExpressionToken(p, &brackets);
      if (!next.ok()) return next.status();
      p = *next;
    }
  }

  // Digits with single underscores between them, at `p`; the end offset or nullopt.
  std::optional<size_t> MatchDigitGroups(size_t p) const {
    if (p >= src_.size() || !IsDigit(src_[p])) return std::nullopt;
    while (p < src_.size() && IsDigit(src_[p])) {
      ++p;
      if (p + 1 < src_.size() && src_[p] == '_' && IsDigit(src_[p + 1])) ++p;
    }
    return p;
  }

  // jinja2's float_re: D(.D)?e[+-]?D | D.D, not right after a '.'.
  std::optional<size_t> MatchFloat(size_t p) const {
    if (p > 0 && src_[p - 1] == '.') return std::nullopt;
    std::optional<size_t> integer = MatchDigitGroups(p);
    if (!integer) return std::nullopt;
    size_t q = *integer;
    std::optional<size_t> fraction;
    if (q < src_.size() && src_[q] == '.') fraction = MatchDigitGroups(q + 1);
    const size_t before_exp = fraction ? *fraction : q;
    if (before_exp < src_.size() && (src_[before_exp] == 'e' || src_[before_exp] == 'E')) {
      size_t e = before_exp + 1;
      if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
      if (std::optional<size_t> exp = MatchDigitGroups(e)) return *exp;
    }
    return fraction;
  }

  // jinja2's integer_re: 0b/0o/0x forms, [1-9](_?\d)*, 0(_?0)*.
  size_t MatchInteger(size_t p) const {
    auto match_prefixed = [&](char letter, int base) -> std::optional<size_t> {
      if (!(src_[p] == '0' && p + 1 < src_.size() &&
            (src_[p + 1] == letter || src_[p + 1] == letter - 32))) {
        return std::nullopt;
      }
      size_t q = p + 2;
      size_t end = q;
      while (true) {
        size_t r = end;
        if (r < src_.size() && src_[r] == '_') ++r;
        if (r < src_.size() && HexValue(src_[r]) >= 0 && HexValue(src_[r]) < base) {
          end = r + 1;
        } else {
          break;
        }
      }
      if (end == q) return std::nullopt;
      return end;
    };
    if (auto m = match_prefixed('b', 2)) return *m;
    if (auto m = match_prefixed('o', 8)) return *m;
    if (auto m = match_prefixed('x', 16)) return *m;
    size_t q = p + 1;
    const char digit = src_[p] == '0' ? '0' : '\0';
    while (q < src_.size()) {
      size_t r = q;
      if (src_[r] == '_') ++r;
      if (r < src_.size() && (digit ? src_[r] == '0' : IsDigit(src_[r]))) {
        q = r + 1;
      } else {
        break;
      }
    }
    return q;
  }

  absl::StatusOr<size_t> LexExpressionToken(size_t p, std::vector<char>* brackets) {
    const char c = src_[p];
    if (IsDigit(c)) {
      if (std::optional<size_t> end = MatchFloat(p)) {
        std::string text;
        for (size_t i = p; i < *end; ++i) {
          if (src_[i] != '_') text.push_back(src_[i]);
        }
        std::optional<double> value = ParsePyFloat(text);
        if (!value) return Error(p, absl::StrCat("bad float literal '", text, "'"));
        Emit(TokenKind::kFloat, p, text);
        tokens_.back().float_value = *value;
        return *end;
      }
      const size_t end = MatchInteger(p);
      const std::string text = src_.substr(p, end - p);
      std::optional<int64_t> value = ParsePyInt(text, 0);
      if (!value) return Error(p, absl::StrCat("integer literal '", text, "' is out of range"));
      Emit(TokenKind::kInteger, p, text);
      tokens_.back().int_value = *value;
      return end;
    }
    if (IsNameStart(c)) {
      size_t end = p;
      while (end < src_.size() && IsNameChar(src_[end])) ++end;
      Emit(TokenKind::kName, p, src_.substr(p, end - p));
      return end;
    }
    if (c == '\'' || c == '"') return LexString(p);
    for (std::string_view op : kOperators) {
      if (!StartsWith(p, op)) continue;
      if (op == "(" || op == "[" || op == "{") {
        brackets->push_back(op == "(" ? ')' : op == "[" ? ']' : '}');
      } else if (op == ")" || op == "]" || op == "}") {
        if (brackets->empty()) return Error(p, absl::StrCat("unexpected '", std::string(op), "'"));
        if (brackets->back() != op[0]) {
          return Error(p, absl::StrCat("unexpected '", std::string(op), "', expected '",
                                       std::string(1, brackets->back()), "'"));
        }
        brackets->pop_back();
      }
      Emit(TokenKind::kOperator, p, std::string(op));
      return p + op.size();
    }
    size_t next = p;
    std::string shown;
    AppendCodePoint(DecodeCodePoint(src_, &next), &shown);
    return Error(p, absl::StrCat("unexpected character '", shown, "'"));
  }

  absl::StatusOr<size_t> LexString(size_t p) {
    const char quote = src_[p];
    std::string value;
    size_t q = p + 1;
    while (true) {
      if (q >= src_.size()) return Error(p, "unterminated string literal");
      const char c = src_[q];
      if (c == quote) break;
      if (c != '\\') {
        value.push_back(c);
        ++q;
        continue;
      }
      if (q + 1 >= src_.size()) return Error(p, "unterminated string literal");
      absl::StatusOr<size_t> next = Unescape(q, &value);
      if (!next.ok()) return next.status();
      q = *next;
    }
    Emit(TokenKind::kString, p, std::move(value));
    return q + 1;
  }

  // Python's unicode-escape of the escape at src_[q] == '\\'; appends its value.
  absl::StatusOr<size_t> Unescape(size_t q, std::string* out) const {
    const char e = src_[q + 1];
    auto hex_escape = [&](int digits, std::string_view what) -> absl::StatusOr<size_t> {
      uint32_t cp = 0;
      for (int i = 0; i < digits; ++i) {
        const size_t at = q + 2 + static_cast<size_t>(i);
        const int h = at < src_.size() ? HexValue(src_[at]) : -1;
        if (h < 0) return Error(q, absl::StrCat("truncated ", std::string(what), " escape"));
        cp = cp * 16 + static_cast<uint32_t>(h);
      }
      if (cp > 0x10FFFF)
        return Error(q, absl::StrCat("illegal Unicode character in ", std::string(what)));
      AppendCodePoint(cp, out);
      return q + 2 + static_cast<size_t>(digits);
    };
    switch (e) {
      case '\\':
        out->push_back('\\');
        return q + 2;
      case '\'':
        out->push_back('\'');
        return q + 2;
      case '"':
        out->push_back('"');
        return q + 2;
      case 'a':
        out->push_back('\a');
        return q + 2;
      case 'b':
        out->push_back('\b');
        return q + 2;
      case 'f':
        out->push_back('\f');
        return q + 2;
      case 'n':
        out->push_back('\n');
        return q + 2;
      case 'r':
        out->push_back('\r');
        return q + 2;
      case 't':
        out->push_back('\t');
        return q + 2;
      case 'v':
        out->push_back('\v');
        return q + 2;
      case '\n':
        return q + 2;  // line continuation
      case 'x':
        return hex_escape(2, "\\xXX");
      case 'u':
        return hex_escape(4, "\\uXXXX");
      case 'U':
        return hex_escape(8, "\\UXXXXXXXX");
      case 'N':
        return Error(q, "unsupported '\\N{...}' escape");
      default:
        break;
    }
    if (e >= '0' && e <= '7') {
      uint32_t cp = 0;
      size_t r = q + 1;
      for (int i = 0; i < 3 && r < src_.size() && src_[r] >= '0' && src_[r] <= '7'; ++i, ++r) {
        cp = cp * 8 + static_cast<uint32_t>(src_[r] - '0');
      }
      AppendCodePoint(cp, out);
      return r;
    }
    // Unknown escapes stay as written. A non-ASCII character after the backslash reads
    // as its backslashreplace form, as jinja2's ascii round trip produces.
    out->push_back('\\');
    size_t next = q + 1;
    const char32_t cp = DecodeCodePoint(src_, &next);
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      const int digits = cp < 0x100 ? 2 : cp < 0x10000 ? 4 : 8;
      out->push_back(cp < 0x100 ? 'x' : cp < 0x10000 ? 'u' : 'U');
      for (int i = digits - 1; i >= 0; --i) out->push_back(kHex[(cp >> (4 * i)) & 0xF]);
    }
    return next;
  }

  std::string src_;
  std::string_view name_;
  std::vector<size_t> newlines_;
  std::vector<Token> tokens_;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Lex(std::string_view source, std::string_view name) {
  if (!IsValidUtf8(source)) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(name), ": template source is not valid UTF-8"));
  }
  return Lexer(NormalizeNewlines(source), name).Run();
}

}  // namespace loom::jinja
