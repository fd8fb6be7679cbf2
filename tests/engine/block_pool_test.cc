#include "engine/block_pool.h"

#include <gtest/gtest.h>

#include <set>

namespace loom {
namespace {

TEST(BlockPoolTest, AllocatesDistinctBlocksAndFreesThem) {
  BlockPool pool(4);
  auto a = pool.Allocate(3);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(std::set<int32_t>(a->begin(), a->end()).size(), 3u);
  EXPECT_EQ(pool.num_blocks_free(), 1);
  EXPECT_EQ(pool.num_blocks_active(), 3);
  pool.Free(*a);
  EXPECT_EQ(pool.num_blocks_free(), 4);
}

TEST(BlockPoolTest, ExhaustionTakesNothing) {
  BlockPool pool(2);
  auto a = pool.Allocate(1);
  ASSERT_TRUE(a.ok());
  auto b = pool.Allocate(2);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(pool.num_blocks_free(), 1);
}

TEST(BlockPoolDeathTest, DoubleFreeIsABug) {
  BlockPool pool(2);
  auto a = pool.Allocate(1);
  ASSERT_TRUE(a.ok());
  pool.Free(*a);
  EXPECT_DEATH(pool.Free(*a), "freeing block");
}

}  // namespace
}  // namespace loom
