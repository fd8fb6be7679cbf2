#include "engine/text/jinja/py_string.h"

#include <unicode/bytestream.h>
#include <unicode/casemap.h>
#include <unicode/stringpiece.h>
#include <unicode/uchar.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace loom::jinja {
namespace {

constexpr char32_t kEscapedByteBase = 0xDC00;  // surrogateescape: byte b -> U+DC00 + b

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

char32_t EscapedByte(unsigned char c) { return kEscapedByteBase + c; }

// Code point set of strip(chars).
bool Contains(const std::u32string& set, char32_t cp) {
  return set.find(cp) != std::u32string::npos;
}

std::string MapCase(std::string_view s, bool upper) {
  std::string out;
  icu::StringByteSink<std::string> sink(&out);
  UErrorCode status = U_ZERO_ERROR;
  icu::StringPiece piece(s.data(), static_cast<int32_t>(s.size()));
  if (upper) {
    icu::CaseMap::utf8ToUpper("", 0, piece, sink, nullptr, status);
  } else {
    icu::CaseMap::utf8ToLower("", 0, piece, sink, nullptr, status);
  }
  if (U_FAILURE(status)) return std::string(s);
  return out;
}

std::string MapCodePointCase(char32_t cp, bool upper) {
  std::string one;
  AppendCodePoint(cp, &one);
  return MapCase(one, upper);
}

// Full title-case of one code point: ICU's simple mapping, except where the full upper
// mapping expands (e.g. U+00DF -> "Ss"), which Python's title case also expands.
std::string TitleCodePoint(char32_t cp) {
  std::string upper = MapCodePointCase(cp, /*upper=*/true);
  std::u32string upper_cps = ToCodePoints(upper);
  std::string out;
  if (upper_cps.size() > 1) {
    AppendCodePoint(upper_cps[0], &out);
    out += MapCase(FromCodePoints(std::u32string_view(upper_cps).substr(1)), /*upper=*/false);
    return out;
  }
  AppendCodePoint(static_cast<char32_t>(u_totitle(static_cast<UChar32>(cp))), &out);
  return out;
}

bool IsCased(char32_t cp) { return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_CASED); }

bool IsPrintable(char32_t cp) {
  if (cp == ' ') return true;
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_SURROGATE:
    case U_PRIVATE_USE_CHAR:
    case U_UNASSIGNED:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
    case U_SPACE_SEPARATOR:
      return false;
    default:
      return true;
  }
}

void AppendHex(uint32_t value, int digits, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out->push_back(kHex[(value >> (4 * i)) & 0xF]);
}

std::string_view TrimPyWhitespace(std::string_view s) {
  std::u32string cps = ToCodePoints(s);
  size_t begin = 0, end = cps.size();
  while (begin < end && IsPyWhitespace(cps[begin])) ++begin;
  while (end > begin && IsPyWhitespace(cps[end - 1])) --end;
  // Whitespace is ASCII or a valid multi-byte sequence, so re-measure in bytes.
  size_t byte_begin = 0, pos = 0, index = 0;
  while (index < begin) {
    DecodeCodePoint(s, &pos);
    ++index;
  }
  byte_begin = pos;
  while (index < end) {
    DecodeCodePoint(s, &pos);
    ++index;
  }
  return s.substr(byte_begin, pos - byte_begin);
}

// Removes '_' that sits between two digits; nullopt if any other '_' appears.
std::optional<std::string> RemoveDigitUnderscores(std::string_view s, bool hex) {
  auto is_digit = [hex](char c) {
    return (c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 >= s.size() || !is_digit(s[i - 1]) || !is_digit(s[i + 1])) {
        return std::nullopt;
      }
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

char32_t DecodeCodePoint(std::string_view s, size_t* pos) {
  const auto c0 = static_cast<unsigned char>(s[*pos]);
  if (c0 < 0x80) {
    ++*pos;
    return c0;
  }
  int length = 0;
  char32_t cp = 0;
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    length = 2;
    cp = c0 & 0x1F;
  } else if (c0 >= 0xE0 && c0 <= 0xEF) {
    length = 3;
    cp = c0 & 0x0F;
  } else if (c0 >= 0xF0 && c0 <= 0xF4) {
    length = 4;
    cp = c0 & 0x07;
  }
  if (length == 0 || *pos + length > s.size()) {
    ++*pos;
    return EscapedByte(c0);
  }
  for (int i = 1; i < length; ++i) {
    const auto c = static_cast<unsigned char>(s[*pos + i]);
    if (!IsContinuation(c)) {
      ++*pos;
      return EscapedByte(c0);
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  const bool overlong = (length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000);
  if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++*pos;
    return EscapedByte(c0);
  }
  *pos += length;
  return cp;
}

void AppendCodePoint(char32_t cp, std::string* out) {
  if (cp >= kEscapedByteBase + 0x80 && cp <= kEscapedByteBase + 0xFF) {
    out->push_back(static_cast<char>(cp - kEscapedByteBase));
  } else if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::u32string ToCodePoints(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) out.push_back(DecodeCodePoint(s, &pos));
  return out;
}

std::string FromCodePoints(std::u32string_view cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) AppendCodePoint(cp, &out);
  return out;
}

size_t CodePointCount(std::string_view s) {
  size_t count = 0, pos = 0;
  while (pos < s.size()) {
    DecodeCodePoint(s, &pos);
    ++count;
  }
  return count;
}

bool IsPyWhitespace(char32_t cp) {
  switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x1C:
    case 0x1D:
    case 0x1E:
    case 0x1F:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

std::string PyStrip(std::string_view s, const std::optional<std::string>& chars, StripSide side) {
  std::u32string cps = ToCodePoints(s);
  std::u32string set;
  if (chars.has_value()) set = ToCodePoints(*chars);
  auto strip = [&](char32_t cp) {
    return chars.has_value() ? Contains(set, cp) : IsPyWhitespace(cp);
  };
  size_t begin = 0, end = cps.size();
  if (side != StripSide::kRight) {
    while (begin < end && strip(cps[begin])) ++begin;
  }
  if (side != StripSide::kLeft) {
    while (end > begin && strip(cps[end - 1])) --end;
  }
  return FromCodePoints(std::u32string_view(cps).substr(begin, end - begin));
}

std::vector<std::string> PySplit(std::string_view s, const std::optional<std::string>& sep,
                                 int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (sep.has_value()) {
    const std::string& d = *sep;
    if (!from_right) {
      size_t start = 0;
      while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
        size_t hit = s.find(d, start);
        if (hit == std::string_view::npos) break;
        parts.emplace_back(s.substr(start, hit - start));
        start = hit + d.size();
      }
      parts.emplace_back(s.substr(start));
      return parts;
    }
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      if (end < d.size()) break;
      size_t hit = s.rfind(d, end - d.size());
      if (hit == std::string_view::npos) break;
      parts.emplace_back(s.substr(hit + d.size(), end - hit - d.size()));
      end = hit;
    }
    parts.emplace_back(s.substr(0, end));
    std::reverse(parts.begin(), parts.end());
    return parts;
  }
  // Whitespace split: runs of whitespace separate, leading/trailing runs are ignored, and
  // once maxsplit is reached the remainder (stripped on the near side only) is one part.
  std::u32string cps = ToCodePoints(s);
  if (from_right) std::reverse(cps.begin(), cps.end());
  size_t i = 0;
  const size_t n = cps.size();
  while (true) {
    while (i < n && IsPyWhitespace(cps[i])) ++i;
    if (i >= n) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
      std::u32string rest = cps.substr(i);  // the far end keeps its whitespace
      if (from_right) std::reverse(rest.begin(), rest.end());
      parts.push_back(FromCodePoints(rest));
      break;
    }
    size_t j = i;
    while (j < n && !IsPyWhitespace(cps[j])) ++j;
    std::u32string word = cps.substr(i, j - i);
    if (from_right) std::reverse(word.begin(), word.end());
    parts.push_back(FromCodePoints(word));
    i = j;
  }
  if (from_right) std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> PySplitLines(std::string_view s) {
  std::vector<std::string> lines;
  std::u32string cps = ToCodePoints(s);
  size_t start = 0;
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    const bool is_break = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C ||
                          c == 0x1D || c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!is_break) continue;
    lines.push_back(FromCodePoints(std::u32string_view(cps).substr(start, i - start)));
    if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < cps.size()) {
    lines.push_back(FromCodePoints(std::u32string_view(cps).substr(start)));
  }
  return lines;
}

std::string PyReplace(std::string_view s, std::string_view old_text, std::string_view new_text,
                      int64_t count) {
  std::string out;
  int64_t done = 0;
  if (old_text.empty()) {
    // Insertion points sit before each code point and at the end.
    size_t pos = 0;
    while (true) {
      if (count < 0 || done < count) {
        out.append(new_text);
        ++done;
      }
      if (pos >= s.size()) break;
      size_t next = pos;
      DecodeCodePoint(s, &next);
      out.append(s.substr(pos, next - pos));
      pos = next;
    }
    return out;
  }
  size_t start = 0;
  while (count < 0 || done < count) {
    size_t hit = s.find(old_text, start);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(start, hit - start));
    out.append(new_text);
    start = hit + old_text.size();
    ++done;
  }
  out.append(s.substr(start));
  return out;
}

int64_t PyFind(std::string_view s, std::string_view sub) {
  size_t hit = s.find(sub);
  if (hit == std::string_view::npos) return -1;
  return static_cast<int64_t>(CodePointCount(s.substr(0, hit)));
}

int64_t PyCount(std::string_view s, std::string_view sub) {
  if (sub.empty()) return static_cast<int64_t>(CodePointCount(s)) + 1;
  int64_t n = 0;
  size_t start = 0;
  while (true) {
    size_t hit = s.find(sub, start);
    if (hit == std::string_view::npos) return n;
    ++n;
    start = hit + sub.size();
  }
}

std::string PyUpper(std::string_view s) { return MapCase(s, /*upper=*/true); }
std::string PyLower(std::string_view s) { return MapCase(s, /*upper=*/false); }

std::string PyCapitalize(std::string_view s) {
  if (s.empty()) return std::string();
  size_t pos = 0;
  char32_t first = DecodeCodePoint(s, &pos);
  return TitleCodePoint(first) + PyLower(s.substr(pos));
}

std::string PyTitleMethod(std::string_view s) {
  std::string out;
  bool previous_cased = false;
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t cp = DecodeCodePoint(s, &pos);
    out += previous_cased ? MapCodePointCase(cp, /*upper=*/false) : TitleCodePoint(cp);
    previous_cased = IsCased(cp);
  }
  return out;
}

std::string JinjaTitleFilter(std::string_view s) {
  auto is_separator = [](char32_t cp) {
    return IsPyWhitespace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
  };
  std::u32string cps = ToCodePoints(s);
  std::string out;
  size_t i = 0;
  while (i < cps.size()) {
    const bool separator = is_separator(cps[i]);
    size_t j = i;
    while (j < cps.size() && is_separator(cps[j]) == separator) ++j;
    std::u32string_view item = std::u32string_view(cps).substr(i, j - i);
    out += MapCodePointCase(item[0], /*upper=*/true);
    out += PyLower(FromCodePoints(item.substr(1)));
    i = j;
  }
  return out;
}

std::string FormatPyFloat(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  char buffer[64];
  auto result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  std::string_view sci(buffer, static_cast<size_t>(result.ptr - buffer));
  std::string out;
  if (!sci.empty() && sci[0] == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::string_view exp_text = sci.substr(e_pos + 1);
  if (!exp_text.empty() && exp_text[0] == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int decpt = exponent + 1;  // value = 0.DIGITS * 10^decpt
  const int ndigits = static_cast<int>(digits.size());
  if (decpt <= -4 || decpt > 16) {
    out.push_back(digits[0]);
    if (ndigits > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.push_back('e');
    out.push_back(exponent < 0 ? '-' : '+');
    const int magnitude = exponent < 0 ? -exponent : exponent;
    if (magnitude < 10) out.push_back('0');
    out += std::to_string(magnitude);
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-decpt), '0');
    out += digits;
  } else if (decpt >= ndigits) {
    out += digits;
    out.append(static_cast<size_t>(decpt - ndigits), '0');
    out += ".0";
  } else {
    out.append(digits, 0, static_cast<size_t>(decpt));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(decpt), std::string::npos);
  }
  return out;
}

std::string ReprPyString(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t cp = DecodeCodePoint(s, &pos);
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      out += "\\x";
      AppendHex(cp, 2, &out);
    } else if (cp < 0x80 || IsPrintable(cp)) {
      AppendCodePoint(cp, &out);
    } else if (cp < 0x100) {
      out += "\\x";
      AppendHex(cp, 2, &out);
    } else if (cp < 0x10000) {
      out += "\\u";
      AppendHex(cp, 4, &out);
    } else {
      out += "\\U";
      AppendHex(cp, 8, &out);
    }
  }
  out.push_back(quote);
  return out;
}

std::optional<int64_t> ParsePyInt(std::string_view s, int base) {
  std::string_view text = TrimPyWhitespace(s);
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  auto has_prefix = [&text](char lower) {
    return text.size() >= 2 && text[0] == '0' && (text[1] == lower || text[1] == lower - 32);
  };
  if (base == 0) {
    if (has_prefix('x')) {
      base = 16;
    } else if (has_prefix('o')) {
      base = 8;
    } else if (has_prefix('b')) {
      base = 2;
    } else {
      base = 10;
      // Python rejects a base-0 decimal with leading zeros ("007"), except all zeros.
      if (text.size() > 1 && text[0] == '0' &&
          text.find_first_not_of("0_") != std::string_view::npos) {
        return std::nullopt;
      }
    }
  }
  bool prefixed = false;
  if ((base == 16 && has_prefix('x')) || (base == 8 && has_prefix('o')) ||
      (base == 2 && has_prefix('b'))) {
    text.remove_prefix(2);
    prefixed = true;
  }
  if (base < 2 || base > 36) return std::nullopt;
  // After a prefix, Python allows one underscore right away ("0x_ff").
  if (prefixed && !text.empty() && text[0] == '_') text.remove_prefix(1);
  std::optional<std::string> digits = RemoveDigitUnderscores(text, /*hex=*/base > 10);
  if (!digits.has_value() || digits->empty()) return std::nullopt;
  uint64_t magnitude = 0;
  auto result = std::from_chars(digits->data(), digits->data() + digits->size(), magnitude, base);
  if (result.ec != std::errc() || result.ptr != digits->data() + digits->size()) {
    return std::nullopt;
  }
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  if (magnitude > limit) return std::nullopt;
  if (negative)
    return magnitude == (uint64_t{1} << 63) ? std::numeric_limits<int64_t>::min()
                                            : -static_cast<int64_t>(magnitude);
  return static_cast<int64_t>(magnitude);
}

std::optional<double> ParsePyFloat(std::string_view s) {
  std::string_view text = TrimPyWhitespace(s);
  std::string lowered;
  for (char c : text) lowered.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
  std::string_view body = lowered;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == "inf" || body == "infinity") {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (body == "nan") return std::numeric_limits<double>::quiet_NaN();
  // Digits, '.', 'e', sign after 'e'; underscores only between digits.
  if (body.empty() || body.find_first_not_of("0123456789._e+-") != std::string_view::npos) {
    return std::nullopt;
  }
  std::optional<std::string> cleaned = RemoveDigitUnderscores(body, /*hex=*/false);
  if (!cleaned.has_value()) return std::nullopt;
  double value = 0;
  auto result = std::from_chars(cleaned->data(), cleaned->data() + cleaned->size(), value,
                                std::chars_format::general);
  if (result.ptr != cleaned->data() + cleaned->size()) return std::nullopt;
  if (result.ec == std::errc::result_out_of_range) {
    // Python rounds overflow to inf and underflow to 0 rather than failing.
    value = cleaned->find('e') != std::string::npos && cleaned->find("e-") != std::string::npos
                ? 0.0
                : std::numeric_limits<double>::infinity();
  } else if (result.ec != std::errc()) {
    return std::nullopt;
  }
  return negative ? -value : value;
}

}  // namespace loom::jinja
