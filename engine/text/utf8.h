// UTF-8 helpers with the semantics of Rust's `str` (what Hugging Face tokenizers uses).
//
// Valid UTF-8 here means RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF. Invalid sequences are replaced the way `String::from_utf8_lossy` does: one
// U+FFFD per maximal ill-formed subpart (Unicode "substitution of maximal subparts").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace loom::text {

// U+FFFD REPLACEMENT CHARACTER, UTF-8 encoded.
inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// Length of the valid UTF-8 sequence that starts at `text[pos]`, or 0 if the bytes there
// do not form one. REQUIRES: pos < text.size().
size_t Utf8SequenceLength(std::string_view text, size_t pos);

// Byte offset of the first byte of `text` that does not begin a valid sequence, or
// text.size() when all of `text` is valid.
size_t FindInvalidUtf8(std::string_view text);

inline bool IsValidUtf8(std::string_view text) { return FindInvalidUtf8(text) == text.size(); }

// Decodes the code point at `text[*pos]` and advances `*pos` past it.
// REQUIRES: `text` is valid UTF-8 and *pos is a character boundary before its end.
char32_t DecodeUtf8(std::string_view text, size_t* pos);

// Appends the UTF-8 encoding of `code_point`. REQUIRES: code_point is a scalar value.
void AppendUtf8(char32_t code_point, std::string* out);

// `bytes` with every maximal ill-formed subpart replaced by U+FFFD.
std::string Utf8Lossy(std::string_view bytes);

}  // namespace loom::text
