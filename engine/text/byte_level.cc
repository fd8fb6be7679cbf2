#include "engine/text/byte_level.h"

#include <array>

#include "engine/text/utf8.h"

namespace loom::text {
namespace {

constexpr bool IsPrintable(uint32_t b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

// The images are all below U+0144, so each fits in two UTF-8 bytes.
constexpr uint32_t kMaxImage = 0x100 + 68;

struct Tables {
  std::array<char32_t, 256> byte_to_char{};
  std::array<int16_t, kMaxImage> char_to_byte{};  // -1 where not an image
  std::array<std::array<char, 2>, 256> utf8{};    // UTF-8 of byte_to_char
  std::array<uint8_t, 256> utf8_length{};
};

constexpr Tables MakeTables() {
  Tables t;
  for (auto& v : t.char_to_byte) v = -1;
  uint32_t next = 0x100;
  for (uint32_t b = 0; b < 256; ++b) {
    const uint32_t c = IsPrintable(b) ? b : next++;
    t.byte_to_char[b] = static_cast<char32_t>(c);
    t.char_to_byte[c] = static_cast<int16_t>(b);
    if (c < 0x80) {
      t.utf8[b] = {static_cast<char>(c), 0};
      t.utf8_length[b] = 1;
    } else {
      t.utf8[b] = {static_cast<char>(0xC0 | (c >> 6)), static_cast<char>(0x80 | (c & 0x3F))};
      t.utf8_length[b] = 2;
    }
  }
  return t;
}

constexpr Tables kTables = MakeTables();

}  // namespace

char32_t ByteToChar(uint8_t byte) { return kTables.byte_to_char[byte]; }

std::optional<uint8_t> CharToByte(char32_t c) {
  if (static_cast<uint32_t>(c) >= kMaxImage) return std::nullopt;
  const int16_t b = kTables.char_to_byte[static_cast<uint32_t>(c)];
  if (b < 0) return std::nullopt;
  return static_cast<uint8_t>(b);
}

void AppendByteLevel(std::string_view bytes, std::string* out) {
  out->reserve(out->size() + 2 * bytes.size());
  for (const char ch : bytes) {
    const auto b = static_cast<uint8_t>(ch);
    out->append(kTables.utf8[b].data(), kTables.utf8_length[b]);
  }
}

std::optional<std::string> ByteLevelToBytes(std::string_view token) {
  std::string bytes;
  bytes.reserve(token.size());
  size_t pos = 0;
  while (pos < token.size()) {
    const std::optional<uint8_t> b = CharToByte(DecodeUtf8(token, &pos));
    if (!b.has_value()) return std::nullopt;
    bytes.push_back(static_cast<char>(*b));
  }
  return bytes;
}

}  // namespace loom::text
