#include "engine/text/byte_level.h"

#include <set>
#include <string>

#include "engine/text/utf8.h"
#include "gtest/gtest.h"

namespace loom::text {
namespace {

TEST(ByteLevelTest, AllBytesRoundTrip) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  std::string mapped;
  AppendByteLevel(all_bytes, &mapped);
  ASSERT_TRUE(IsValidUtf8(mapped));
  const std::optional<std::string> back = ByteLevelToBytes(mapped);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all_bytes);
}

TEST(ByteLevelTest, MapIsABijectionOntoPrintableCharacters) {
  std::set<char32_t> images;
  for (int b = 0; b < 256; ++b) {
    const char32_t c = ByteToChar(static_cast<uint8_t>(b));
    images.insert(c);
    EXPECT_EQ(CharToByte(c), b) << "byte " << b;
    EXPECT_GT(static_cast<uint32_t>(c), 0x20u) << "byte " << b << " maps to a control or space";
  }
  EXPECT_EQ(images.size(), 256u);
}

TEST(ByteLevelTest, MatchesGpt2Table) {
  EXPECT_EQ(ByteToChar('A'), U'A');
  EXPECT_EQ(ByteToChar('!'), U'!');
  EXPECT_EQ(ByteToChar(' '), U'\u0120');   // Ġ
  EXPECT_EQ(ByteToChar('\n'), U'\u010A');  // Ċ
  EXPECT_EQ(ByteToChar(0x00), U'\u0100');
  EXPECT_EQ(ByteToChar(0xAD), U'\u0143');  // the soft hyphen is the last remapped byte
  EXPECT_EQ(ByteToChar(0xE9), U'\u00E9');
}

TEST(ByteLevelTest, CharactersOutsideTheMapAreRejected) {
  EXPECT_EQ(CharToByte(U' '), std::nullopt);
  EXPECT_EQ(CharToByte(U'\u4F60'), std::nullopt);
  EXPECT_EQ(ByteLevelToBytes("ab c"), std::nullopt);  // ' ' itself is not an image
  EXPECT_EQ(ByteLevelToBytes("\xC4\xA0hi"), " hi");   // "Ġhi"
}

}  // namespace
}  // namespace loom::text
