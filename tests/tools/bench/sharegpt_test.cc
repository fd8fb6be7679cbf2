#include "tools/bench/sharegpt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace loom::bench {
namespace {

const std::string kSmallFile =
    std::string(LOOM_SOURCE_DIR) + "/tests/tools/bench/data/sharegpt_small.json";

// One id per whitespace-separated word; with `special`, a BOS (id 0) first. The word ids
// are the word lengths, so that a prompt's ids tell which pair it came from.
absl::StatusOr<std::vector<int32_t>> WordEncode(const std::string& text, bool special) {
  std::vector<int32_t> ids;
  if (special) ids.push_back(0);
  std::istringstream in(text);
  std::string word;
  while (in >> word) ids.push_back(static_cast<int32_t>(word.size()));
  return ids;
}

std::string Write(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ShareGptTest, ReadsTheFirstTwoTurnsOfEachConversation) {
  auto pairs = ReadShareGpt(kSmallFile);
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  // Ten conversations; "skip-one-turn" and "skip-no-turns" have no reply.
  ASSERT_EQ(pairs->size(), 8u);
  EXPECT_EQ((*pairs)[0], (ShareGptPair{"w w w w w", "w w w w w w w w w w"}));
  // Three turns: the third is not part of the pair.
  EXPECT_EQ((*pairs)[6], (ShareGptPair{"w w w w w w", "w w w w w w w"}));
  // Keys before "conversations", "value" keys outside turns, escapes and UTF-8.
  EXPECT_EQ((*pairs)[7].prompt, "ROMEO: What say'st thou, \"nurse\"?\nJULIET: \u00e9t\u00e9 w w");
  EXPECT_EQ((*pairs)[7].reply, "w w w w w w w w w w w w");
}

TEST(ShareGptTest, StandardFilteringOnTheSmallFile) {
  auto pairs = ReadShareGpt(kSmallFile);
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  auto set = SampleShareGpt(*pairs, 100, 0, WordEncode);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->workload, "sharegpt");
  // Passing: plain (6, 10), at-the-limits (1024, 1024: prompt 1024 and total 2048 are
  // allowed), three-turns (7, 7), extra-keys (10, 12). Dropped: a 3-token prompt, a
  // 3-token reply, a 1025-token prompt, 1000 + 1049 = 2049 tokens.
  std::vector<std::pair<size_t, int>> lengths;
  for (const BenchRequest& r : set->requests)
    lengths.emplace_back(r.prompt_ids.size(), r.output_len);
  std::sort(lengths.begin(), lengths.end());
  EXPECT_THAT(lengths, ::testing::ElementsAre(
                           std::pair<size_t, int>{6, 10}, std::pair<size_t, int>{7, 7},
                           std::pair<size_t, int>{10, 12}, std::pair<size_t, int>{1024, 1024}));
  // The prompt ids are the encoder's, BOS included.
  for (const BenchRequest& r : set->requests) EXPECT_EQ(r.prompt_ids[0], 0);

  // A smaller session_len lowers the total bound.
  auto cut = SampleShareGpt(*pairs, 100, 0, WordEncode, {.max_total_len = 100});
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->requests.size(), 3u);
}

TEST(ShareGptTest, SamplingIsSeededAndStopsAtNumPrompts) {
  auto pairs = ReadShareGpt(kSmallFile);
  ASSERT_TRUE(pairs.ok());
  int calls = 0;
  const EncodeFn counting = [&calls](const std::string& text, bool special) {
    ++calls;
    return WordEncode(text, special);
  };
  auto one = SampleShareGpt(*pairs, 1, 5, counting);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->requests.size(), 1u);
  // Four of the eight pairs fail the filter, so the first pass comes by the fifth pair:
  // it stopped there, without tokenizing the rest.
  EXPECT_LE(calls, 2 * 5);
  auto a = SampleShareGpt(*pairs, 2, 5, WordEncode);
  auto b = SampleShareGpt(*pairs, 2, 5, WordEncode);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->requests.size(), 2u);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->requests[0], one->requests[0]);
  // Some seed orders the passing pairs differently.
  bool differs = false;
  for (uint64_t seed = 0; seed < 20 && !differs; ++seed) {
    auto c = SampleShareGpt(*pairs, 2, seed, WordEncode);
    ASSERT_TRUE(c.ok());
    differs = c->requests != a->requests;
  }
  EXPECT_TRUE(differs);
}

TEST(ShareGptTest, EncoderErrorsPassThrough) {
  auto pairs = ReadShareGpt(kSmallFile);
  ASSERT_TRUE(pairs.ok());
  const EncodeFn failing = [](const std::string&, bool) -> absl::StatusOr<std::vector<int32_t>> {
    return absl::UnavailableError("tokenizer down");
  };
  EXPECT_EQ(SampleShareGpt(*pairs, 2, 0, failing).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(SampleShareGpt(*pairs, 0, 0, WordEncode).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ShareGptTest, BadFilesAreClearErrors) {
  EXPECT_EQ(ReadShareGpt("/nonexistent/sharegpt.json").status().code(),
            absl::StatusCode::kNotFound);
  const auto invalid = [](const std::string& name, const std::string& text) {
    auto pairs = ReadShareGpt(Write(name, text));
    EXPECT_EQ(pairs.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(pairs.status().message()), ::testing::HasSubstr(name)) << text;
  };
  invalid("sharegpt_object.json", R"({"conversations": []})");
  invalid("sharegpt_scalars.json", R"([1, 2])");
  invalid("sharegpt_truncated.json", R"([{"conversations": [{"from": "human", "value": "hi")");
  auto empty = ReadShareGpt(Write("sharegpt_empty.json", "[]"));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace loom::bench
