#include "engine/text/decoder.h"

#include <string>
#include <vector>

#include "engine/text/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Decode(std::string_view config, std::vector<std::string> tokens) {
  absl::StatusOr<std::unique_ptr<Decoder>> decoder =
      DecoderFromJson(nlohmann::json::parse(config), JsonLocation("t.json", "decoder"));
  EXPECT_TRUE(decoder.ok()) << decoder.status();
  if (!decoder.ok()) return {};
  const absl::Status status = (*decoder)->DecodeChain(&tokens);
  EXPECT_TRUE(status.ok()) << status;
  return tokens;
}

const std::string kFffd(kReplacementCharacter);

TEST(DecoderTest, ByteLevelMapsCharactersBackToBytes) {
  // "Hello", "Ġwor", "ld" and the two byte-level halves of "é" (C3 A9 -> "Ã", "©").
  EXPECT_THAT(
      Decode(R"({"type": "ByteLevel"})", {"Hello", "\xC4\xA0wor", "ld", "\xC3\x83", "\xC2\xA9"}),
      ElementsAre("Hello world\xC3\xA9"));
}

TEST(DecoderTest, ByteLevelReplacesInvalidUtf8AndKeepsForeignTokens) {
  // A lone C3 byte becomes U+FFFD; "<|im end|>" has a plain space, which is not in the
  // byte map, so the token is taken as its own UTF-8.
  EXPECT_THAT(Decode(R"({"type": "ByteLevel"})", {"\xC3\x83", "<|im end|>"}),
              ElementsAre(kFffd + "<|im end|>"));
}

TEST(DecoderTest, SentencePieceStyleSequence) {
  constexpr std::string_view kLlama2 = R"({"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"},
      {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})";
  EXPECT_THAT(Decode(kLlama2, {"\xE2\x96\x81Hello", "\xE2\x96\x81w", "<0xC3>", "<0xA9>", "!"}),
              ElementsAre("Hello w\xC3\xA9!"));
  // An invalid byte run becomes one U+FFFD per byte.
  EXPECT_THAT(Decode(kLlama2, {"a", "<0xC3>", "<0x41>"}), ElementsAre("a" + kFffd + kFffd));
}

TEST(DecoderTest, StripRemovesAtMostTheRequestedCount) {
  EXPECT_THAT(
      Decode(R"({"type": "Strip", "content": "x", "start": 2, "stop": 1})", {"xxxaxx", "a"}),
      ElementsAre("xax", "a"));
}

TEST(DecoderTest, UnsupportedTypeNamesTheKey) {
  absl::StatusOr<std::unique_ptr<Decoder>> decoder = DecoderFromJson(
      nlohmann::json::parse(R"({"type": "WordPiece"})"), JsonLocation("t.json", "decoder"));
  ASSERT_FALSE(decoder.ok());
  EXPECT_THAT(std::string(decoder.status().message()),
              ::testing::HasSubstr("t.json: decoder.type: unsupported decoder \"WordPiece\""));
}

}  // namespace
}  // namespace loom::text
