#include "engine/text/normalizer.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom::text {
namespace {

std::unique_ptr<Normalizer> Build(std::string_view config) {
  absl::StatusOr<std::unique_ptr<Normalizer>> normalizer =
      NormalizerFromJson(nlohmann::json::parse(config), JsonLocation("t.json", "normalizer"));
  EXPECT_TRUE(normalizer.ok()) << normalizer.status();
  return normalizer.ok() ? *std::move(normalizer) : nullptr;
}

std::string Apply(const Normalizer& normalizer, std::string text) {
  const absl::Status status = normalizer.Normalize(&text);
  EXPECT_TRUE(status.ok()) << status;
  return text;
}

const std::string kComposed = "\xC3\xA9";     // é U+00E9
const std::string kDecomposed = "e\xCC\x81";  // e + U+0301

TEST(NormalizerTest, UnicodeForms) {
  EXPECT_EQ(Apply(*Build(R"({"type": "NFC"})"), "caf" + kDecomposed), "caf" + kComposed);
  EXPECT_EQ(Apply(*Build(R"({"type": "NFD"})"), "caf" + kComposed), "caf" + kDecomposed);
  // The ligature ﬁ (U+FB01) only changes under the compatibility forms.
  EXPECT_EQ(Apply(*Build(R"({"type": "NFC"})"), "\xEF\xAC\x81"), "\xEF\xAC\x81");
  EXPECT_EQ(Apply(*Build(R"({"type": "NFKC"})"), "\xEF\xAC\x81" + kDecomposed), "fi" + kComposed);
  EXPECT_EQ(Apply(*Build(R"({"type": "NFKD"})"), "\xEF\xAC\x81" + kComposed), "fi" + kDecomposed);
}

TEST(NormalizerTest, LowercaseIsPerCharacter) {
  // Σ lowercases to σ even at the end of a word (no final-sigma context), as in Rust.
  EXPECT_EQ(Apply(*Build(R"({"type": "Lowercase"})"), "HeLLo \xC3\x89T\xCE\xA3"),
            "hello \xC3\xA9t\xCF\x83");
}

TEST(NormalizerTest, PrependSkipsEmptyText) {
  const auto prepend = Build(R"({"type": "Prepend", "prepend": "\u2581"})");
  EXPECT_EQ(Apply(*prepend, "hi"), "\xE2\x96\x81hi");
  EXPECT_EQ(Apply(*prepend, ""), "");
}

TEST(NormalizerTest, ReplaceStringAndRegex) {
  EXPECT_EQ(
      Apply(*Build(R"({"type": "Replace", "pattern": {"String": " "}, "content": "_"})"), " a b "),
      "_a_b_");
  EXPECT_EQ(Apply(*Build(R"({"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "})"),
                  "a \t\n b"),
            "a b");
}

TEST(NormalizerTest, StripAndSequence) {
  const auto sequence = Build(R"({"type": "Sequence", "normalizers": [
      {"type": "Strip", "strip_left": true, "strip_right": false},
      {"type": "Prepend", "prepend": "_"}]})");
  EXPECT_EQ(Apply(*sequence, "\xE3\x80\x80  hi  "), "_hi  ");
}

TEST(NormalizerTest, UnsupportedTypeNamesTheKey) {
  absl::StatusOr<std::unique_ptr<Normalizer>> normalizer = NormalizerFromJson(
      nlohmann::json::parse(R"({"type": "Sequence", "normalizers": [{"type": "BertNormalizer"}]})"),
      JsonLocation("dir/tokenizer.json", "normalizer"));
  ASSERT_FALSE(normalizer.ok());
  EXPECT_EQ(normalizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(normalizer.status().message()),
              ::testing::HasSubstr(
                  "dir/tokenizer.json: normalizer.normalizers[0].type: unsupported normalizer "
                  "\"BertNormalizer\""));
}

}  // namespace
}  // namespace loom::text
