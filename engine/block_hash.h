// Content hashes of KV blocks, chained so that a block's hash names its whole prefix.
//
// Block i of a sequence holds tokens [i * block_size, (i + 1) * block_size). Its hash
// mixes the hash of block i - 1 with its own tokens, so two sequences share block i's
// hash only if they agree on every token up to the end of block i (barring a 64-bit
// collision, which BlockPool guards against by comparing tokens).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace loom {

// The chain's starting value, the "parent" of a sequence's first block.
inline constexpr uint64_t kRootBlockHash = 0x6c6f6f6d2d6b7631ull;

uint64_t HashBlock(uint64_t parent_hash, std::span<const int32_t> tokens);

// The chained hashes of every full block of `tokens` (a partial last block has none).
std::vector<uint64_t> HashFullBlocks(std::span<const int32_t> tokens, int block_size);

}  // namespace loom
