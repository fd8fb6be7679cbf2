// Python `str` semantics on UTF-8 strings, for the Jinja interpreter.
//
// Jinja templates run on Python strings: lengths, indexes and slices count code points,
// `strip()`/`split()` use Unicode whitespace, and `upper()`/`lower()` use full Unicode
// case mappings. These helpers reproduce that on UTF-8 bytes. Bytes that are not valid
// UTF-8 never make them fail: each such byte decodes to a lone code point in
// U+DC80..U+DCFF (Python's "surrogateescape") and encodes back to the same byte, so a
// round trip through code points preserves any input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loom::jinja {

// Decodes the code point at `s[*pos]` and advances `*pos` past it.
// REQUIRES: *pos < s.size().
char32_t DecodeCodePoint(std::string_view s, size_t* pos);
// Appends the UTF-8 encoding of `cp` (U+DC80..U+DCFF append their escaped byte).
void AppendCodePoint(char32_t cp, std::string* out);

std::u32string ToCodePoints(std::string_view s);
std::string FromCodePoints(std::u32string_view cps);
// len(s) in Python.
size_t CodePointCount(std::string_view s);

// str.isspace() for one code point (the set Python's `\s` and str.strip() use).
bool IsPyWhitespace(char32_t cp);

enum class StripSide { kBoth, kLeft, kRight };
// s.strip(chars) / lstrip / rstrip; `chars` unset strips Unicode whitespace.
std::string PyStrip(std::string_view s, const std::optional<std::string>& chars, StripSide side);

// s.split(sep, maxsplit) / s.rsplit(...). `sep` unset splits on whitespace runs and drops
// empty parts; maxsplit < 0 means no limit. REQUIRES: sep, when set, is not empty.
std::vector<std::string> PySplit(std::string_view s, const std::optional<std::string>& sep,
                                 int64_t maxsplit, bool from_right);
// s.splitlines() (without keepends).
std::vector<std::string> PySplitLines(std::string_view s);

// s.replace(old, new, count); count < 0 replaces all. An empty `old` inserts `new`
// between code points, as Python does.
std::string PyReplace(std::string_view s, std::string_view old_text, std::string_view new_text,
                      int64_t count);

// s.find(sub) in code points, or -1.
int64_t PyFind(std::string_view s, std::string_view sub);
// s.count(sub) (non-overlapping).
int64_t PyCount(std::string_view s, std::string_view sub);

// Full Unicode case mappings, as str.upper() / str.lower().
std::string PyUpper(std::string_view s);
std::string PyLower(std::string_view s);
// str.capitalize(): first code point title-cased, the rest lower-cased.
std::string PyCapitalize(std::string_view s);
// str.title(): a cased code point after a cased one is lowered, any other title-cased.
std::string PyTitleMethod(std::string_view s);
// Jinja's `title` filter: each word (split at runs of whitespace, '-', '(', '{', '[', '<')
// gets its first code point upper-cased and the rest lower-cased.
std::string JinjaTitleFilter(std::string_view s);

// repr(x) for a float, as Python prints it (shortest round trip: "1.0", "1e-05",
// "1e+16", "inf", "nan").
std::string FormatPyFloat(double value);
// repr(s) for a string: single quotes unless s holds ' and no ", backslash escapes.
std::string ReprPyString(std::string_view s);

// int(s, base) for a string, as Python parses it (surrounding whitespace, sign,
// underscores between digits, 0x/0o/0b prefixes when they match `base` or base is 0).
// nullopt when Python would raise ValueError or the value does not fit in int64.
std::optional<int64_t> ParsePyInt(std::string_view s, int base);
// float(s) for a string, as Python parses it ("  1.5 ", "1_000", "inf", "-nan", "1e3").
std::optional<double> ParsePyFloat(std::string_view s);

}  // namespace loom::jinja
