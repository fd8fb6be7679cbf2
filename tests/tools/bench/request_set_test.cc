#include "tools/bench/request_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace loom::bench {
namespace {

std::string Write(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(RequestSetTest, DumpAndLoadRoundTrip) {
  const RequestSet set{.workload = "sharegpt-synth",
                       .seed = 18446744073709551615ull,
                       .requests = {{.prompt_ids = {0, 5, 2047}, .output_len = 4},
                                    {.prompt_ids = {2147483647}, .output_len = 1024}}};
  const std::string path = ::testing::TempDir() + "/bench_request_set.json";
  ASSERT_TRUE(WriteRequestSet(set, path).ok());
  auto read = ReadRequestSet(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, set);
  // In memory too, where the ids are signed JSON numbers.
  auto again = RequestSetFromJson(RequestSetToJson(set), "memory");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, set);
}

TEST(RequestSetTest, TheFileFormatIsTheDocumentedOne) {
  auto set = ReadRequestSet(Write("bench_handwritten.json", R"({
    "workload": "latency", "seed": 3,
    "requests": [{"prompt_ids": [1, 2, 3], "output_len": 7}]})"));
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->workload, "latency");
  EXPECT_EQ(set->seed, 3u);
  ASSERT_EQ(set->requests.size(), 1u);
  EXPECT_EQ(set->requests[0].prompt_ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(set->requests[0].output_len, 7);
}

TEST(RequestSetTest, BadSetsNameTheProblem) {
  const auto invalid = [](const std::string& json, const std::string& what) {
    auto set = RequestSetFromJson(nlohmann::json::parse(json), "set.json");
    EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_THAT(std::string(set.status().message()), ::testing::HasSubstr(what)) << json;
    EXPECT_THAT(std::string(set.status().message()), ::testing::HasSubstr("set.json")) << json;
  };
  invalid(R"([])", "object");
  invalid(R"({"seed": 0, "requests": [{"prompt_ids": [1], "output_len": 1}]})", "workload");
  invalid(R"({"workload": "x", "seed": -1, "requests": []})", "seed");
  invalid(R"({"workload": "x", "seed": 0, "requests": []})", "requests");
  invalid(R"({"workload": "x", "seed": 0, "requests": [{"prompt_ids": [], "output_len": 1}]})",
          "requests[0].prompt_ids");
  invalid(R"({"workload": "x", "seed": 0, "requests": [{"prompt_ids": [-1], "output_len": 1}]})",
          "requests[0].prompt_ids");
  invalid(
      R"({"workload": "x", "seed": 0, "requests": [{"prompt_ids": [1], "output_len": 1},
                                                   {"prompt_ids": [1], "output_len": 0}]})",
      "requests[1].output_len");
  EXPECT_EQ(ReadRequestSet("/nonexistent/set.json").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadRequestSet(Write("bench_not_json.json", "{")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace loom::bench
