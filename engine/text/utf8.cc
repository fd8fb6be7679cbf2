#include "engine/text/utf8.h"

#include <cstdint>

#include "kernels/check.h"

namespace loom::text {
namespace {

// Length in bytes of the maximal prefix of a well-formed sequence at `text[pos]` (at
// least 1), and whether it is complete. This is the Unicode table 3-7 automaton: the
// second byte's range depends on the lead byte, later bytes are 80..BF.
struct Subpart {
  size_t length;
  bool complete;
};

Subpart MaximalSubpart(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(pos);
  if (lead < 0x80) return {1, true};
  size_t needed;
  uint8_t second_min = 0x80;
  uint8_t second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    needed = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    needed = 2;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    needed = 3;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return {1, false};
  }
  size_t length = 1;
  for (size_t k = 0; k < needed; ++k) {
    const size_t i = pos + 1 + k;
    if (i >= text.size()) return {length, false};
    const uint8_t b = byte(i);
    const uint8_t lo = k == 0 ? second_min : 0x80;
    const uint8_t hi = k == 0 ? second_max : 0xBF;
    if (b < lo || b > hi) return {length, false};
    ++length;
  }
  return {length, true};
}

}  // namespace

size_t Utf8SequenceLength(std::string_view text, size_t pos) {
  LOOM_CHECK(pos < text.size()) << "pos " << pos << " size " << text.size();
  const Subpart subpart = MaximalSubpart(text, pos);
  return subpart.complete ? subpart.length : 0;
}

size_t FindInvalidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    // ASCII runs are the common case; skip them a byte at a time without the automaton.
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t length = Utf8SequenceLength(text, pos);
    if (length == 0) return pos;
    pos += length;
  }
  return text.size();
}

char32_t DecodeUtf8(std::string_view text, size_t* pos) {
  const auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(text[i])); };
  const size_t p = *pos;
  LOOM_CHECK(p < text.size()) << "pos " << p << " size " << text.size();
  const uint32_t lead = byte(p);
  if (lead < 0x80) {
    *pos = p + 1;
    return lead;
  }
  if (lead < 0xE0) {
    LOOM_CHECK(p + 1 < text.size()) << "truncated UTF-8 at " << p;
    *pos = p + 2;
    return ((lead & 0x1F) << 6) | (byte(p + 1) & 0x3F);
  }
  if (lead < 0xF0) {
    LOOM_CHECK(p + 2 < text.size()) << "truncated UTF-8 at " << p;
    *pos = p + 3;
    return ((lead & 0x0F) << 12) | ((byte(p + 1) & 0x3F) << 6) | (byte(p + 2) & 0x3F);
  }
  LOOM_CHECK(p + 3 < text.size()) << "truncated UTF-8 at " << p;
  *pos = p + 4;
  return ((lead & 0x07) << 18) | ((byte(p + 1) & 0x3F) << 12) | ((byte(p + 2) & 0x3F) << 6) |
         (byte(p + 3) & 0x3F);
}

void AppendUtf8(char32_t code_point, std::string* out) {
  const auto cp = static_cast<uint32_t>(code_point);
  LOOM_CHECK(cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF)) << "not a scalar value: " << cp;
  if (cp < 0x80) {
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

std::string Utf8Lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    const Subpart subpart = MaximalSubpart(bytes, pos);
    if (subpart.complete) {
      out.append(bytes.substr(pos, subpart.length));
    } else {
      out.append(kReplacementCharacter);
    }
    pos += subpart.length;
  }
  return out;
}

}  // namespace loom::text
