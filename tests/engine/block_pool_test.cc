#include "engine/block_pool.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "engine/block_hash.h"

namespace loom {
namespace {

std::vector<int32_t> Tokens(int n, int32_t first) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = first + i;
  return t;
}

TEST(BlockPoolTest, AllocatesDistinctBlocksAndReleasesThem) {
  BlockPool pool(4, 2, false);
  auto a = pool.Allocate(3);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(std::set<int32_t>(a->begin(), a->end()).size(), 3u);
  EXPECT_EQ(pool.num_blocks_free(), 1);
  EXPECT_EQ(pool.num_blocks_active(), 3);
  pool.Release(*a);
  EXPECT_EQ(pool.num_blocks_free(), 4);
}

TEST(BlockPoolTest, ExhaustionTakesNothing) {
  BlockPool pool(2, 2, true);
  auto a = pool.Allocate(1);
  ASSERT_TRUE(a.ok());
  auto b = pool.Allocate(2);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(pool.num_blocks_free(), 1);
}

TEST(BlockPoolTest, PublishedBlocksAreSharedAfterRelease) {
  const int bs = 4;
  BlockPool pool(8, bs, true);
  const auto prompt = Tokens(3 * bs + 1, 100);  // three full blocks and one token
  const auto hashes = HashFullBlocks(prompt, bs);
  ASSERT_EQ(hashes.size(), 3u);

  auto first = pool.Allocate(4);
  ASSERT_TRUE(first.ok());
  for (int i = 0; i < 3; ++i) {
    pool.Publish((*first)[i], hashes[i], std::span(prompt).subspan(i * bs, bs));
  }
  // While the first sequence runs, a second one shares its full blocks.
  auto shared = pool.AcquireCachedPrefix(hashes, prompt);
  EXPECT_EQ(shared, std::vector<int32_t>(first->begin(), first->begin() + 3));
  EXPECT_EQ(pool.ref_count((*first)[0]), 2);
  pool.Release(shared);

  pool.Release(*first);
  EXPECT_EQ(pool.num_blocks_cached(), 3);
  EXPECT_EQ(pool.num_blocks_free(), 5);
  EXPECT_EQ(pool.state((*first)[3]), BlockPool::State::kFree);  // never published

  // A later sequence with the same first two blocks and a different third.
  auto other = Tokens(3 * bs, 100);
  other[2 * bs] = 7;
  auto again = pool.AcquireCachedPrefix(HashFullBlocks(other, bs), other);
  EXPECT_EQ(again, std::vector<int32_t>(first->begin(), first->begin() + 2));
  EXPECT_EQ(pool.num_blocks_cached(), 1);
  EXPECT_EQ(pool.state(again[0]), BlockPool::State::kActive);
  pool.Release(again);
}

TEST(BlockPoolTest, CachedBlocksAreEvictedLeastRecentlyUsedFirst) {
  const int bs = 2;
  BlockPool pool(3, bs, true);
  std::vector<std::vector<int32_t>> seqs = {Tokens(bs, 0), Tokens(bs, 10), Tokens(bs, 20)};
  std::vector<int32_t> ids;
  for (const auto& s : seqs) {
    auto b = pool.Allocate(1);
    ASSERT_TRUE(b.ok());
    pool.Publish((*b)[0], HashFullBlocks(s, bs)[0], s);
    ids.push_back((*b)[0]);
  }
  pool.Release(std::vector<int32_t>{ids[1]});
  pool.Release(std::vector<int32_t>{ids[0]});
  pool.Release(std::vector<int32_t>{ids[2]});
  EXPECT_EQ(pool.num_blocks_cached(), 3);
  // Oldest release first: ids[1] goes, then ids[0].
  auto one = pool.Allocate(1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ((*one)[0], ids[1]);
  EXPECT_TRUE(pool.AcquireCachedPrefix(HashFullBlocks(seqs[1], bs), seqs[1]).empty());
  auto zero = pool.AcquireCachedPrefix(HashFullBlocks(seqs[0], bs), seqs[0]);
  EXPECT_EQ(zero, std::vector<int32_t>{ids[0]});
}

TEST(BlockPoolTest, HashCollisionNeverSharesWrongTokens) {
  BlockPool pool(2, 2, true);
  auto b = pool.Allocate(1);
  ASSERT_TRUE(b.ok());
  const std::vector<int32_t> tokens = {1, 2};
  const uint64_t hash = HashFullBlocks(tokens, 2)[0];
  pool.Publish((*b)[0], hash, tokens);
  // Same hash, different tokens: as if two prefixes collided.
  const std::vector<int32_t> other = {3, 4};
  EXPECT_TRUE(pool.AcquireCachedPrefix(std::vector<uint64_t>{hash}, other).empty());
}

TEST(BlockPoolTest, DisabledPrefixCachingFreesEverything) {
  BlockPool pool(2, 2, false);
  auto b = pool.Allocate(1);
  ASSERT_TRUE(b.ok());
  const std::vector<int32_t> tokens = {1, 2};
  pool.Publish((*b)[0], HashFullBlocks(tokens, 2)[0], tokens);
  pool.Release(*b);
  EXPECT_EQ(pool.num_blocks_cached(), 0);
  EXPECT_TRUE(pool.AcquireCachedPrefix(HashFullBlocks(tokens, 2), tokens).empty());
}

// Thousands of random allocate / share / publish / release operations against a simple
// model of who holds what: states, reference counts and counters always agree.
TEST(BlockPoolTest, RandomOperationsKeepInvariants) {
  const int bs = 2, num_blocks = 24;
  BlockPool pool(num_blocks, bs, true);
  std::mt19937 rng(2024);
  struct Seq {
    std::vector<int32_t> tokens;
    std::vector<int32_t> blocks;
  };
  std::vector<Seq> live;
  // A handful of token prefixes, so sharing actually happens.
  auto random_tokens = [&](int blocks) {
    std::vector<int32_t> t(blocks * bs);
    for (auto& x : t) x = static_cast<int32_t>(rng() % 3);
    return t;
  };
  for (int step = 0; step < 5000; ++step) {
    const int op = rng() % 3;
    if (op == 0 || live.empty()) {
      Seq s;
      s.tokens = random_tokens(1 + rng() % 4);
      const auto hashes = HashFullBlocks(s.tokens, bs);
      s.blocks = pool.AcquireCachedPrefix(hashes, s.tokens);
      auto rest = pool.Allocate(static_cast<int>(hashes.size() - s.blocks.size()));
      if (!rest.ok()) {
        pool.Release(s.blocks);
        continue;
      }
      for (size_t i = s.blocks.size(); i < hashes.size(); ++i) {
        s.blocks.push_back((*rest)[i - (hashes.size() - rest->size())]);
      }
      for (size_t i = 0; i < hashes.size(); ++i) {
        pool.Publish(s.blocks[i], hashes[i], std::span(s.tokens).subspan(i * bs, bs));
      }
      live.push_back(std::move(s));
    } else {
      const size_t victim = rng() % live.size();
      pool.Release(live[victim].blocks);
      live.erase(live.begin() + victim);
    }
    // The model: reference counts are the number of live sequences holding each block.
    std::map<int32_t, int> refs;
    for (const auto& s : live) {
      std::set<int32_t> distinct(s.blocks.begin(), s.blocks.end());
      ASSERT_EQ(distinct.size(), s.blocks.size()) << "a sequence holds a block twice";
      for (int32_t b : s.blocks) ++refs[b];
    }
    int active = 0;
    for (int32_t b = 0; b < num_blocks; ++b) {
      const int expected = refs.count(b) ? refs[b] : 0;
      ASSERT_EQ(pool.ref_count(b), expected) << "block " << b << " at step " << step;
      ASSERT_EQ(pool.state(b) == BlockPool::State::kActive, expected > 0);
      active += expected > 0;
    }
    ASSERT_EQ(pool.num_blocks_active(), active);
    ASSERT_EQ(pool.num_blocks_free() + pool.num_blocks_cached() + active, num_blocks);
  }
}

TEST(BlockPoolDeathTest, DoubleReleaseIsABug) {
  BlockPool pool(2, 2, false);
  auto a = pool.Allocate(1);
  ASSERT_TRUE(a.ok());
  pool.Release(*a);
  EXPECT_DEATH(pool.Release(*a), "not Active");
}

}  // namespace
}  // namespace loom
