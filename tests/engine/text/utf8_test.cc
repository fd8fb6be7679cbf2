#include "engine/text/utf8.h"

#include <string>

#include "gtest/gtest.h"

namespace loom::text {
namespace {

const std::string kFffd(kReplacementCharacter);

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x91\x8D"));
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_TRUE(IsValidUtf8("\xEE\x80\x80"));      // U+E000, just past the surrogates
}

TEST(Utf8Test, RejectsIllFormedTextAtItsOffset) {
  EXPECT_EQ(FindInvalidUtf8("ab\x80"), 2u);            // stray continuation byte
  EXPECT_EQ(FindInvalidUtf8("a\xC0\xAF"), 1u);         // overlong '/'
  EXPECT_EQ(FindInvalidUtf8("\xE0\x80\xAF"), 0u);      // overlong 3-byte form
  EXPECT_EQ(FindInvalidUtf8("x\xED\xA0\x80"), 1u);     // UTF-16 surrogate U+D800
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("ok\xE4\xBD"), 2u);        // truncated sequence
  EXPECT_EQ(FindInvalidUtf8("\xFF"), 0u);
}

TEST(Utf8Test, DecodeAndAppendRoundTripEveryPlane) {
  for (const char32_t c :
       {U'\0', U'A', U'\u00E9', U'\u4F60', U'\uFFFD', U'\U0001F44D', U'\U0010FFFF'}) {
    std::string encoded;
    AppendUtf8(c, &encoded);
    ASSERT_TRUE(IsValidUtf8(encoded));
    size_t pos = 0;
    EXPECT_EQ(DecodeUtf8(encoded, &pos), c);
    EXPECT_EQ(pos, encoded.size());
  }
}

// The expected strings are what Rust's String::from_utf8_lossy returns.
TEST(Utf8Test, LossyReplacesMaximalSubparts) {
  EXPECT_EQ(Utf8Lossy("fine \xC3\xA9"), "fine \xC3\xA9");
  EXPECT_EQ(Utf8Lossy("\xF0\x90\x80"
                      "A"),
            kFffd + "A");                                       // one U+FFFD for the prefix
  EXPECT_EQ(Utf8Lossy("\xC0\xAF"), kFffd + kFffd);              // C0 is never a lead byte
  EXPECT_EQ(Utf8Lossy("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // surrogate: byte by byte
  EXPECT_EQ(Utf8Lossy("\xE4\xBD"), kFffd);                      // truncated at the end
  EXPECT_EQ(Utf8Lossy("a\xFF"
                      "b\x80"),
            "a" + kFffd + "b" + kFffd);
}

}  // namespace
}  // namespace loom::text
