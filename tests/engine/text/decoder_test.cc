#include "engine/text/decoder.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
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

TEST(DecoderTest, MetaspaceDropsTheReplacementInTheFirstTokenOnly) {
  constexpr std::string_view kAlways =
      R"({"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always"})";
  EXPECT_THAT(Decode(kAlways, {"\xE2\x96\x81Hey",
                               "\xE2\x96\x81"
                               "friend!"}),
              ElementsAre("Hey", " friend!"));
  // As in tokenizers, every replacement of the first token goes, not only a leading one.
  EXPECT_THAT(Decode(kAlways, {"a\xE2\x96\x81\xE2\x96\x81"
                               "b",
                               "\xE2\x96\x81\xE2\x96\x81"}),
              ElementsAre("ab", "  "));
  EXPECT_THAT(Decode(R"({"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never"})",
                     {"\xE2\x96\x81Hey",
                      "\xE2\x96\x81"
                      "friend!"}),
              ElementsAre(" Hey", " friend!"));
  // The legacy spelling: add_prefix_space true is "always", false is "never".
  EXPECT_THAT(Decode(R"({"type": "Metaspace", "replacement": "_", "add_prefix_space": true})",
                     {"_a", "_b"}),
              ElementsAre("a", " b"));
  EXPECT_THAT(Decode(R"({"type": "Metaspace", "replacement": "_", "add_prefix_space": false})",
                     {"_a", "_b"}),
              ElementsAre(" a", " b"));
}

TEST(DecoderTest, MetaspaceConfigErrors) {
  for (const std::string_view config : {
           R"({"type": "Metaspace", "replacement": "ab"})",
           R"({"type": "Metaspace", "replacement": "_", "prepend_scheme": "sometimes"})",
           R"({"type": "Metaspace", "replacement": "_", "add_prefix_space": false,
               "prepend_scheme": "always"})",
       }) {
    EXPECT_FALSE(
        DecoderFromJson(nlohmann::json::parse(config), JsonLocation("t.json", "decoder")).ok())
        << config;
  }
}

// ---- DecoderStream ----

std::unique_ptr<Decoder> MustBuild(std::string_view config) {
  if (config == "null") return nullptr;
  absl::StatusOr<std::unique_ptr<Decoder>> decoder =
      DecoderFromJson(nlohmann::json::parse(config), JsonLocation("t.json", "decoder"));
  EXPECT_TRUE(decoder.ok()) << decoder.status();
  return decoder.ok() ? *std::move(decoder) : nullptr;
}

// What the tokenizer makes of `tokens` in one go.
std::string DecodeAll(const Decoder* decoder, std::vector<std::string> tokens) {
  if (decoder == nullptr) return absl::StrJoin(tokens, " ");
  EXPECT_TRUE(decoder->DecodeChain(&tokens).ok());
  return absl::StrJoin(tokens, "");
}

// The pieces that a stream gives: one per Push, then Finish's.
std::vector<std::string> StreamPieces(const Decoder* decoder,
                                      const std::vector<std::string>& tokens) {
  DecoderStream stream(decoder);
  std::vector<std::string> pieces;
  for (const std::string& token : tokens) {
    EXPECT_TRUE(stream.Push(token, &pieces.emplace_back()).ok());
  }
  EXPECT_TRUE(stream.Finish(&pieces.emplace_back()).ok());
  return pieces;
}

constexpr std::string_view kLlama2Decoder = R"({"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
    {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})";

TEST(DecoderStreamTest, Llama2HoldsByteRunsAndStripsOnlyTheStart) {
  const std::unique_ptr<Decoder> decoder = MustBuild(kLlama2Decoder);
  EXPECT_THAT(StreamPieces(decoder.get(),
                           {"\xE2\x96\x81Hello", "<0xE4>", "<0xBD>", "<0xA0>", "\xE2\x96\x81w"}),
              ElementsAre("Hello", "", "", "", "\xE4\xBD\xA0 w", ""));
  EXPECT_THAT(StreamPieces(decoder.get(), {"<0xE4>", "<0xBD>"}),
              ElementsAre("", "", kFffd + kFffd));
}

TEST(DecoderStreamTest, ByteLevelHoldsUnfinishedCharacters) {
  const std::unique_ptr<Decoder> decoder = MustBuild(R"({"type": "ByteLevel"})");
  // "é" is C3 A9, whose byte-level characters are "Ã" and "©"; 😀 is F0 9F 98 80.
  EXPECT_THAT(StreamPieces(decoder.get(), {"a\xC3\x83",
                                           "\xC2\xA9"
                                           "b",
                                           "\xC3\xB0\xC5\x81", "\xC4\xBA\xC4\xA2"}),
              ElementsAre("a",
                          "\xC3\xA9"
                          "b",
                          "", "\xF0\x9F\x98\x80", ""));
  // E0 80 ("à", "Ģ") can never start a character: both bytes are U+FFFD at once.
  EXPECT_THAT(StreamPieces(decoder.get(), {"\xC3\xA0", "\xC4\xA2"}),
              ElementsAre("", kFffd + kFffd, ""));
}

TEST(DecoderStreamTest, StripAfterFuseHoldsPossibleTrailingCopies) {
  const std::unique_ptr<Decoder> decoder = MustBuild(R"({"type": "Sequence", "decoders": [
      {"type": "Fuse"}, {"type": "Strip", "content": "x", "start": 1, "stop": 2}]})");
  const std::vector<std::string> tokens = {"xa", "x", "xx", "b", "x"};
  EXPECT_EQ(DecodeAll(decoder.get(), tokens), "axxxb");
  EXPECT_THAT(StreamPieces(decoder.get(), tokens), ElementsAre("a", "", "x", "xxb", "", ""));
}

TEST(DecoderStreamTest, StringReplaceAfterFuseMatchesAcrossTokens) {
  const std::unique_ptr<Decoder> decoder = MustBuild(R"({"type": "Sequence", "decoders": [
      {"type": "Fuse"}, {"type": "Replace", "pattern": {"String": "ab"}, "content": "X"}]})");
  const std::vector<std::string> tokens = {"a", "b", "ca", "ab", "a"};
  EXPECT_EQ(DecodeAll(decoder.get(), tokens), "XcaXa");
  EXPECT_THAT(StreamPieces(decoder.get(), tokens), ElementsAre("", "X", "c", "aX", "", "a"));
}

TEST(DecoderStreamTest, ChainsWithoutIncrementalFormWaitForFinish) {
  for (const std::string_view config : {
           R"({"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "ByteLevel"}]})",
           R"({"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "ByteFallback"}]})",
           R"({"type": "Sequence", "decoders": [{"type": "ByteLevel"}, {"type": "Replace",
               "pattern": {"Regex": "a+"}, "content": "b"}]})",
       }) {
    SCOPED_TRACE(config);
    const std::unique_ptr<Decoder> decoder = MustBuild(config);
    EXPECT_FALSE(DecoderStream(decoder.get()).incremental());
    const std::vector<std::string> tokens = {"<0x41>"};
    EXPECT_THAT(StreamPieces(decoder.get(), tokens),
                ElementsAre("", DecodeAll(decoder.get(), tokens)));
  }
  EXPECT_TRUE(DecoderStream(MustBuild(kLlama2Decoder).get()).incremental());
  EXPECT_TRUE(DecoderStream(nullptr).incremental());
}

// Every decoder chain, fed random tokens: the stream's pieces concatenate to the batch
// decode and each piece is valid UTF-8.
TEST(DecoderStreamTest, RandomTokensMatchTheBatchDecode) {
  const std::vector<std::string> alphabet = {"\xE2\x96\x81",
                                             "\xE2\x96\x81"
                                             "a",
                                             "a",
                                             "b",
                                             "ab",
                                             "x",
                                             "xx",
                                             " ",
                                             "  ",
                                             "<0xE4>",
                                             "<0xBD>",
                                             "<0xA0>",
                                             "<0x41>",
                                             "<0xFF>",
                                             "<0xc3>",
                                             "<0xA9>",
                                             "<0x80>",
                                             "\xC3\xA9",
                                             "\xE4\xBD\xA0",
                                             "\xC4\xA0",
                                             "\xC3\x83",
                                             "\xC2\xA9",
                                             "\xC3\xB0\xC5\x81",
                                             "\xC4\xBA",
                                             "\xC4\xA2",
                                             "<|im_end|>",
                                             "\xE2\x96\x81\xE2\x96\x81"};
  const std::string_view configs[] = {
      "null",
      kLlama2Decoder,
      R"({"type": "ByteLevel"})",
      R"({"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first"})",
      R"({"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never"})",
      R"({"type": "Sequence", "decoders": [{"type": "ByteFallback"},
          {"type": "Metaspace", "replacement": "\u2581"}]})",
      R"({"type": "Sequence", "decoders": [{"type": "Fuse"},
          {"type": "Metaspace", "replacement": "\u2581"}]})",
      R"({"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"},
          "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
          {"type": "Strip", "content": " ", "start": 2, "stop": 2}]})",
      R"({"type": "Sequence", "decoders": [{"type": "Strip", "content": "x", "start": 1,
          "stop": 1}, {"type": "Replace", "pattern": {"Regex": "a+"}, "content": "<0x41>"},
          {"type": "ByteFallback"}]})",
      R"({"type": "Sequence", "decoders": [{"type": "Fuse"},
          {"type": "Replace", "pattern": {"String": "xab"}, "content": "-"},
          {"type": "Replace", "pattern": {"String": "a"}, "content": "aa"}, {"type": "Fuse"}]})",
      R"({"type": "Sequence", "decoders": [{"type": "ByteLevel"},
          {"type": "Strip", "content": " ", "start": 1, "stop": 1},
          {"type": "Replace", "pattern": {"String": "\u00e9"}, "content": "e"}]})",
      R"({"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "ByteFallback"}]})",
  };
  std::mt19937 rng(11);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::uniform_int_distribution<int> length(0, 10);
  for (const std::string_view config : configs) {
    SCOPED_TRACE(config);
    const std::unique_ptr<Decoder> decoder = MustBuild(config);
    for (int i = 0; i < 2000; ++i) {
      std::vector<std::string> tokens(length(rng));
      for (std::string& token : tokens) token = alphabet[pick(rng)];
      const std::vector<std::string> pieces = StreamPieces(decoder.get(), tokens);
      ASSERT_EQ(absl::StrJoin(pieces, ""), DecodeAll(decoder.get(), tokens))
          << absl::StrJoin(tokens, "|");
      for (const std::string& piece : pieces) ASSERT_TRUE(IsValidUtf8(piece));
    }
  }
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
