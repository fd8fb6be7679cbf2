#include "engine/stop_strings.h"

#include <gtest/gtest.h>

#include <random>

namespace loom {
namespace {

// Streams `pieces` through a fresh StopStrings; returns the text streamed and the match.
std::pair<std::string, std::optional<std::string>> Stream(std::vector<std::string> stops,
                                                          const std::vector<std::string>& pieces) {
  StopStrings s(std::move(stops));
  std::string out;
  for (const auto& p : pieces) {
    auto r = s.Push(p);
    out += r.text;
    if (r.match) return {out, r.match};
  }
  return {out + s.Flush(), std::nullopt};
}

TEST(StopStringsTest, NoStopsPassesTextThrough) {
  StopStrings s({});
  EXPECT_EQ(s.Push("abc").text, "abc");
  EXPECT_EQ(s.Flush(), "");
}

TEST(StopStringsTest, StopSpanningTokensIsFoundAndExcluded) {
  auto [text, match] = Stream({"\n\nROMEO"}, {"I am", " here.\n", "\nRO", "MEO: no", "more"});
  EXPECT_EQ(text, "I am here.");
  EXPECT_EQ(match, "\n\nROMEO");
}

TEST(StopStringsTest, PossibleStartIsHeldBackUntilDecided) {
  StopStrings s({"END"});
  EXPECT_EQ(s.Push("the E").text, "the ");
  EXPECT_EQ(s.Push("N").text, "");
  auto r = s.Push("Ding");  // "ENDing": the stop string is there after all
  EXPECT_EQ(r.text, "");
  EXPECT_EQ(r.match, "END");

  StopStrings t({"END"});
  EXPECT_EQ(t.Push("the EN").text, "the ");
  EXPECT_EQ(t.Push("TRY").text, "ENTRY");  // not a stop: released at once
  EXPECT_EQ(t.Push("E").text, "");
  EXPECT_EQ(t.Flush(), "E");
}

TEST(StopStringsTest, FirstCompletedMatchWinsThenTheLongest) {
  // "cd" is complete before "bcdef", though "bcdef" starts earlier.
  auto [text, match] = Stream({"cd", "bcdef"}, {"abcdefg"});
  EXPECT_EQ(text, "ab");
  EXPECT_EQ(match, "cd");
  // Both end at "c": the longer one wins.
  auto [text2, match2] = Stream({"c", "bc"}, {"ab", "cd"});
  EXPECT_EQ(text2, "a");
  EXPECT_EQ(match2, "bc");
}

TEST(StopStringsTest, MultibyteStopsSplitOnlyAtCharacters) {
  auto [text, match] = Stream({"。\n"}, {"你好", "。", "\n再见"});
  EXPECT_EQ(text, "你好");
  EXPECT_EQ(match, "。\n");
}

// Random texts cut into random pieces: the result is always that of a search one
// character at a time (the first position where a stop string ends; the longest there),
// however the pieces fall.
TEST(StopStringsTest, RandomSplitsAgreeWithAWholeTextSearch) {
  std::mt19937 rng(99);
  const std::string alphabet = "ab\n";
  for (int trial = 0; trial < 3000; ++trial) {
    std::string full;
    for (int i = 0, n = rng() % 30; i < n; ++i) full += alphabet[rng() % alphabet.size()];
    std::vector<std::string> stops;
    for (int i = 0, n = 1 + rng() % 2; i < n; ++i) {
      std::string stop;
      for (int j = 0, m = 1 + rng() % 3; j < m; ++j) stop += alphabet[rng() % alphabet.size()];
      stops.push_back(stop);
    }
    size_t first = std::string::npos;  // where the first completed stop string starts
    std::string expected_match;
    for (size_t end = 1; end <= full.size() && first == std::string::npos; ++end) {
      for (const auto& stop : stops) {
        if (stop.size() <= end && full.compare(end - stop.size(), stop.size(), stop) == 0 &&
            stop.size() > expected_match.size()) {
          expected_match = stop;
          first = end - stop.size();
        }
      }
    }
    std::vector<std::string> pieces;
    for (size_t at = 0; at < full.size();) {
      const size_t len = 1 + rng() % 4;
      pieces.push_back(full.substr(at, len));
      at += len;
    }
    auto [text, match] = Stream(stops, pieces);
    if (first == std::string::npos) {
      EXPECT_EQ(text, full);
      EXPECT_FALSE(match.has_value());
    } else {
      EXPECT_EQ(text, full.substr(0, first)) << full;
      EXPECT_EQ(match, expected_match);
    }
  }
}

}  // namespace
}  // namespace loom
