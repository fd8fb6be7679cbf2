#include "server/api_keys.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace loom {
namespace {

TEST(ApiKeysTest, NoKeysAllowsEverything) {
  ApiKeys keys;
  EXPECT_FALSE(keys.enabled());
  EXPECT_TRUE(keys.Check("").ok());
}

TEST(ApiKeysTest, BearerWithAnyKeyPasses) {
  auto keys = ApiKeys::Create({"alpha", "beta-2"});
  ASSERT_TRUE(keys.ok());
  EXPECT_TRUE(keys->Check("Bearer alpha").ok());
  EXPECT_TRUE(keys->Check("Bearer beta-2").ok());
  EXPECT_TRUE(keys->Check("bearer alpha").ok());  // the scheme is case-insensitive
  EXPECT_TRUE(keys->Check("BEARER alpha").ok());
  for (const char* bad : {"", "alpha", "Bearer ", "Bearer alph", "Bearer alphaa", "Bearer ALPHA",
                          "Basic alpha", "Bearer beta"}) {
    absl::Status status = keys->Check(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << bad;
    EXPECT_EQ(status.message().find("alpha"), std::string::npos) << "a key leaked: " << status;
  }
}

TEST(ApiKeysTest, KeyFileSkipsBlankLinesAndComments) {
  const auto path = std::filesystem::temp_directory_path() / "loom_api_keys_test.txt";
  std::ofstream(path) << "# operators\n\n  first-key  \nsecond\n";
  auto keys = ApiKeys::Create({"cli"}, path);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_TRUE(keys->Check("Bearer first-key").ok());
  EXPECT_TRUE(keys->Check("Bearer second").ok());
  EXPECT_TRUE(keys->Check("Bearer cli").ok());
  EXPECT_FALSE(keys->Check("Bearer # operators").ok());
  std::filesystem::remove(path);
}

TEST(ApiKeysTest, BadKeysAreRejected) {
  EXPECT_EQ(ApiKeys::Create({""}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApiKeys::Create({"has space"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApiKeys::Create({}, "/nonexistent/keys.txt").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace loom
