// The GPT-2 byte-to-unicode map used by byte-level BPE (ByteLevel pre-tokenizer and
// decoder in Hugging Face tokenizers).
//
// Each of the 256 byte values is mapped to one printable code point so that BPE can work
// on arbitrary bytes as text: the printable bytes '!'..'~', U+00A1..U+00AC and
// U+00AE..U+00FF map to themselves; the other 68 bytes map, in increasing byte order, to
// U+0100, U+0101, ... (so ' ' becomes 'Ġ' U+0120 and '\n' becomes 'Ċ' U+010A).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loom::text {

// The code point that stands for `byte`.
char32_t ByteToChar(uint8_t byte);

// The byte that `c` stands for, or nullopt if `c` is not in the map's image.
std::optional<uint8_t> CharToByte(char32_t c);

// Appends the byte-level form of `bytes` (one mapped character per byte, UTF-8 encoded).
void AppendByteLevel(std::string_view bytes, std::string* out);

// The bytes that the byte-level token `token` stands for, or nullopt if some character of
// `token` is not in the map's image. REQUIRES: `token` is valid UTF-8.
std::optional<std::string> ByteLevelToBytes(std::string_view token);

}  // namespace loom::text
