// SentencePiece-style tokenizer.json files end to end: the Metaspace pre-tokenizer and
// decoder on a small hand-made BPE (ids derived by hand), the Llama 2 tokenizer rewritten
// the way Mistral v0.3 and older Llama conversions spell it, and DeepSeek-V3's Sequence
// of Split pre-tokenizers with CJK ranges. Expected ids of the real files are those of
// Hugging Face tokenizers 0.23.

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "engine/text/tokenizer.h"
#include "engine/text/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;

const std::string kMeta = "\xE2\x96\x81";  // U+2581, SentencePiece's space

std::unique_ptr<Tokenizer> MustBuild(const json& tokenizer, const json& config = nullptr) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> built =
      Tokenizer::FromJson(tokenizer.dump(), config.is_null() ? "" : config.dump(), "mem");
  EXPECT_TRUE(built.ok()) << built.status();
  return built.ok() ? *std::move(built) : nullptr;
}

std::vector<TokenId> Encode(const Tokenizer& tokenizer, std::string_view text) {
  absl::StatusOr<std::vector<TokenId>> ids = tokenizer.Encode(text, /*add_special_tokens=*/false);
  EXPECT_TRUE(ids.ok()) << ids.status();
  return ids.ok() ? *ids : std::vector<TokenId>();
}

std::string Decode(const Tokenizer& tokenizer, const std::vector<TokenId>& ids) {
  absl::StatusOr<std::string> text = tokenizer.Decode(ids, /*skip_special_tokens=*/false);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

// ---- A hand-made SentencePiece BPE ----
//
// Vocabulary: <unk> <s> </s>, "▁"=3, "a"=4, "b"=5, "▁a"=6, "▁b"=7, "ab"=8, "▁ab"=9,
// "b▁"=10 and the byte tokens <0x00>..<0xFF> = 100..355. Merges by rank: "b ▁",
// "▁ a", "a b", "▁a b", "▁ b". So "▁ab▁ab" as one word merges b▁ first:
// [▁, a, b▁, a, b] -> [▁a, b▁, a, b] -> [▁a, b▁, ab] = 6 10 8, while split at each ▁ it is
// two words "▁ab" -> [▁a, b] -> [▁ab] = 9 9.

json TinyMetaspaceJson(const json& pre_tokenizer) {
  json vocab = {{"<unk>", 0}, {"<s>", 1},        {"</s>", 2},      {kMeta, 3},
                {"a", 4},     {"b", 5},          {kMeta + "a", 6}, {kMeta + "b", 7},
                {"ab", 8},    {kMeta + "ab", 9}, {"b" + kMeta, 10}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = 100 + b;
  }
  json decoder = pre_tokenizer;
  decoder.erase("split");
  return {{"added_tokens",
           {{{"id", 0}, {"content", "<unk>"}, {"special", true}, {"normalized", false}},
            {{"id", 1}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
            {{"id", 2}, {"content", "</s>"}, {"special", true}, {"normalized", false}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre_tokenizer},
          {"decoder", decoder},
          {"model",
           {{"type", "BPE"},
            {"vocab", vocab},
            {"merges", {"b " + kMeta, kMeta + " a", "a b", kMeta + "a b", kMeta + " b"}},
            {"unk_token", "<unk>"},
            {"fuse_unk", true},
            {"byte_fallback", true}}}};
}

json Metaspace(std::string_view scheme, bool split) {
  return {
      {"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", scheme}, {"split", split}};
}

TEST(SentencePieceTest, MetaspaceFirstWithoutSplitLikeMistralV3) {
  const std::unique_ptr<Tokenizer> tokenizer =
      MustBuild(TinyMetaspaceJson(Metaspace("first", false)));
  ASSERT_NE(tokenizer, nullptr);
  // One word "▁ab▁ab": merges may cross the ▁.
  EXPECT_THAT(Encode(*tokenizer, "ab ab"), ElementsAre(6, 10, 8));
  EXPECT_THAT(Encode(*tokenizer, "b a"), ElementsAre(3, 10, 4));  // ▁ b▁ a
  // A leading space is the ▁ itself; none is added after an added token.
  EXPECT_THAT(Encode(*tokenizer, " ab"), ElementsAre(9));
  EXPECT_THAT(Encode(*tokenizer, "<s>ab"), ElementsAre(1, 8));
  EXPECT_THAT(Encode(*tokenizer, "ab<s> ab"), ElementsAre(9, 1, 9));
  // "c" is not in the vocabulary: byte fallback to <0x63>.
  EXPECT_THAT(Encode(*tokenizer, "c"), ElementsAre(3, 100 + 0x63));
  // The decoder drops the ▁ of the first token only.
  EXPECT_EQ(Decode(*tokenizer, {6, 10, 8}), "ab ab");
  EXPECT_EQ(Decode(*tokenizer, {1, 8}), "<s>ab");
  EXPECT_EQ(Decode(*tokenizer, {9, 1, 9}), "ab<s> ab");
}

TEST(SentencePieceTest, MetaspaceSplitAtEachReplacement) {
  const std::unique_ptr<Tokenizer> first = MustBuild(TinyMetaspaceJson(Metaspace("first", true)));
  ASSERT_NE(first, nullptr);
  EXPECT_THAT(Encode(*first, "ab ab"), ElementsAre(9, 9));
  EXPECT_THAT(Encode(*first, "b a"), ElementsAre(7, 6));
  EXPECT_THAT(Encode(*first, "a  b"), ElementsAre(6, 3, 7));          // ▁a ▁ ▁b
  EXPECT_THAT(Encode(*first, "ab</s>b a"), ElementsAre(9, 2, 5, 6));  // b ▁a after </s>

  const std::unique_ptr<Tokenizer> always = MustBuild(TinyMetaspaceJson(Metaspace("always", true)));
  ASSERT_NE(always, nullptr);
  EXPECT_THAT(Encode(*always, "<s>ab"), ElementsAre(1, 9));
  EXPECT_THAT(Encode(*always, "ab</s>b a"), ElementsAre(9, 2, 7, 6));
  EXPECT_EQ(Decode(*always, {9, 2, 7, 6}), "ab</s> b a");

  const std::unique_ptr<Tokenizer> never = MustBuild(TinyMetaspaceJson(Metaspace("never", true)));
  ASSERT_NE(never, nullptr);
  EXPECT_THAT(Encode(*never, "ab ab"), ElementsAre(8, 9));
  EXPECT_THAT(Encode(*never, " ab"), ElementsAre(9));
  // With "never", the decoder keeps every space.
  EXPECT_EQ(Decode(*never, {9}), " ab");
}

TEST(SentencePieceTest, LegacyAddPrefixSpaceMeansAlways) {
  const json legacy = {{"type", "Metaspace"}, {"replacement", kMeta}, {"add_prefix_space", true}};
  const std::unique_ptr<Tokenizer> tokenizer = MustBuild(TinyMetaspaceJson(legacy));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(Encode(*tokenizer, "<s>ab"), ElementsAre(1, 9));
  EXPECT_THAT(Encode(*tokenizer, "ab ab"), ElementsAre(9, 9));
}

// ---- Real tokenizers ----

json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path << ": run scripts/setup.sh";
  std::stringstream contents;
  contents << in.rdbuf();
  return json::parse(contents.str(), nullptr, /*allow_exceptions=*/false);
}

std::filesystem::path RealDir(const std::string& name) {
  return std::filesystem::path(LOOM_DEPS_DIR) / "tokenizers" / name;
}

// Random valid UTF-8 from ASCII, whitespace, Latin, marks, CJK, Hangul, emoji and the rest
// of the planes.
std::string RandomText(std::mt19937& rng) {
  static constexpr std::pair<char32_t, char32_t> kRanges[] = {
      {0x20, 0x7E},     {0x09, 0x0D},       {0xA0, 0x24F}, {0x300, 0x36F},    {0x4E00, 0x9FFF},
      {0x3040, 0x30FF}, {0x1F300, 0x1FAFF}, {0x1, 0xD7FF}, {0xE000, 0x10FFFF}};
  std::uniform_int_distribution<int> length(0, 40);
  std::uniform_int_distribution<size_t> range(0, std::size(kRanges) - 1);
  std::string text;
  const int n = length(rng);
  for (int i = 0; i < n; ++i) {
    const auto [lo, hi] = rng() % 3 == 0 ? kRanges[0] : kRanges[range(rng)];
    std::uniform_int_distribution<uint32_t> code(lo, hi);
    text::AppendUtf8(static_cast<char32_t>(code(rng)), &text);
  }
  return text;
}

// The Llama 2 tokenizer (a Prepend/Replace normalizer) rewritten with a Metaspace
// pre-tokenizer, as newer conversions of the same SentencePiece model write it.
std::unique_ptr<Tokenizer> Llama2WithPreTokenizer(const json& pre_tokenizer,
                                                  const json& decoder = nullptr) {
  json file = ReadJson(RealDir("llama2") / "tokenizer.json");
  if (file.is_discarded()) return nullptr;
  file["normalizer"] = nullptr;
  file["pre_tokenizer"] = pre_tokenizer;
  if (!decoder.is_null()) file["decoder"] = decoder;
  return MustBuild(file);
}

TEST(SentencePieceRealTest, MistralV3StyleMetaspaceFirst) {
  const std::unique_ptr<Tokenizer> tokenizer = Llama2WithPreTokenizer(Metaspace("first", false));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(Encode(*tokenizer, "Hello world"), ElementsAre(22557, 1526));
  EXPECT_THAT(Encode(*tokenizer, " Hello"), ElementsAre(22557));
  // Unlike the Prepend normalizer, no ▁ after an added token: "Hello" is 16230.
  EXPECT_THAT(Encode(*tokenizer, "<s>Hello"), ElementsAre(1, 16230));
  EXPECT_THAT(Encode(*tokenizer, "Hello<s>world"), ElementsAre(22557, 1, 9471));
  EXPECT_THAT(Encode(*tokenizer, "Hi </s> there"), ElementsAre(15359, 28705, 2, 736));
  EXPECT_THAT(
      Encode(*tokenizer, "12345 67 8"),
      ElementsAre(28705, 28740, 28750, 28770, 28781, 28782, 28705, 28784, 28787, 28705, 28783));
  EXPECT_THAT(Encode(*tokenizer,
                     "\xF0\x9F\x87\xAF\xF0\x9F\x87\xB5\xF0\x9F\x87\xBA\xF0\x9F\x87\xB8"
                     " flags"),  // 🇯🇵🇺🇸: byte fallback for the first two
              ElementsAre(28705, 243, 162, 138, 178, 243, 162, 138, 184, 31637, 31818, 6809));
  // Round trip: every ▁ decodes to a space, and the decoder strips one leading space.
  std::mt19937 rng(5);
  for (int i = 0; i < 300; ++i) {
    const std::string text = RandomText(rng);
    std::string expected = absl::StrReplaceAll(text, {{kMeta, " "}});
    if (expected.starts_with(" ")) expected.erase(0, 1);
    ASSERT_EQ(Decode(*tokenizer, Encode(*tokenizer, text)), expected) << "case " << i;
  }
}

TEST(SentencePieceRealTest, LegacyMetaspaceWithMetaspaceDecoder) {
  const json legacy = {{"type", "Metaspace"}, {"replacement", kMeta}, {"add_prefix_space", true}};
  const std::unique_ptr<Tokenizer> tokenizer = Llama2WithPreTokenizer(legacy, legacy);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(Encode(*tokenizer, "<s>Hello"), ElementsAre(1, 22557));
  EXPECT_THAT(Encode(*tokenizer, "Hello<s>world"), ElementsAre(22557, 1, 1526));
  EXPECT_THAT(Encode(*tokenizer,
                     "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C"
                     "\xEF\xBC\x81"),  // 你好，世界！
              ElementsAre(28705, 29383, 29530, 28924, 30050, 29822, 29267));
  EXPECT_EQ(Decode(*tokenizer, {22557, 1, 1526}), "Hello<s> world");
}

TEST(SentencePieceRealTest, WhitespaceSplitThenMetaspace) {
  const json pre = {{"type", "Sequence"},
                    {"pretokenizers", {{{"type", "WhitespaceSplit"}}, Metaspace("always", true)}}};
  const std::unique_ptr<Tokenizer> tokenizer = Llama2WithPreTokenizer(pre);
  ASSERT_NE(tokenizer, nullptr);
  // The whitespace around </s> is cut away, so no lone "▁" (28705) is left.
  EXPECT_THAT(Encode(*tokenizer, "Hi </s> there"), ElementsAre(15359, 2, 736));
}

std::unique_ptr<Tokenizer> LoadDeepSeekV3() {
  const std::filesystem::path dir = RealDir("deepseek_v3");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(dir);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status() << " (scripts/setup.sh fetches " << dir << ")";
  return tokenizer.ok() ? *std::move(tokenizer) : nullptr;
}

TEST(SentencePieceRealTest, DeepSeekV3SplitSequenceWithCjkRanges) {
  const std::unique_ptr<Tokenizer> tokenizer = LoadDeepSeekV3();
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(Encode(*tokenizer, "Hello world"), ElementsAre(19923, 2058));
  EXPECT_THAT(Encode(*tokenizer, " Hello"), ElementsAre(45948));
  // Digits in groups of at most three.
  EXPECT_THAT(Encode(*tokenizer, "12345 67 8"), ElementsAre(6895, 1883, 223, 3186, 223, 26));
  // Han, kana and punctuation come apart at the CJK-range Split.
  EXPECT_THAT(Encode(*tokenizer,
                     "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C"
                     "\xEF\xBC\x81"),  // 你好，世界！
              ElementsAre(30594, 303, 3427, 1175));
  EXPECT_THAT(
      Encode(*tokenizer,
             "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82"
             "\xB9\xE3\x83\x88\xE3\x80\x81\xE3\x82\xAB\xE3\x82\xBF\xE3\x82\xAB\xE3\x83\x8A\xE3"
             "\x80\x82"),  // 日本語のテキスト、カタカナ。
      ElementsAre(88768, 1576, 17383, 20367, 24552, 410, 15961, 11767, 15961, 27071, 320));
  EXPECT_THAT(
      Encode(*tokenizer,
             "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F"
             "\x91\xA7\xE2\x80\x8D\xF0\x9F\x91\xA6 family"),  // 👨‍👩‍👧‍👦
      ElementsAre(25730, 104, 46088, 25730, 105, 46088, 25730, 103, 46088, 25730, 102, 3096));
  EXPECT_EQ(tokenizer->bos_token_id(), 0);
  const std::vector<TokenId> with_bos = tokenizer->Encode("Hello world", true).value();
  EXPECT_THAT(with_bos, ElementsAre(0, 19923, 2058));
  EXPECT_EQ(tokenizer->Decode(with_bos, /*skip_special_tokens=*/true).value(), "Hello world");
  // No normalizer: decode(encode(text)) is the text.
  std::mt19937 rng(3);
  for (int i = 0; i < 400; ++i) {
    const std::string text = RandomText(rng);
    ASSERT_EQ(Decode(*tokenizer, Encode(*tokenizer, text)), text) << "case " << i;
  }
}

}  // namespace
}  // namespace loom
