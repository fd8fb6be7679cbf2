#include "engine/block_hash.h"

namespace loom {
namespace {

// splitmix64's finalizer: a fast, well-mixed 64-bit permutation.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint64_t HashBlock(uint64_t parent_hash, std::span<const int32_t> tokens) {
  uint64_t h = Mix(parent_hash ^ (0x9e3779b97f4a7c15ull + tokens.size()));
  for (int32_t t : tokens) h = Mix(h ^ static_cast<uint32_t>(t));
  return h;
}

std::vector<uint64_t> HashFullBlocks(std::span<const int32_t> tokens, int block_size) {
  std::vector<uint64_t> hashes;
  uint64_t parent = kRootBlockHash;
  for (size_t begin = 0; begin + block_size <= tokens.size(); begin += block_size) {
    parent = HashBlock(parent, tokens.subspan(begin, block_size));
    hashes.push_back(parent);
  }
  return hashes;
}

}  // namespace loom
