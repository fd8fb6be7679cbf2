// Test-only: builds safetensors files and sharded model directories with known contents,
// and raw byte images for corrupting them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/dtype.h"

namespace loom::testing {

struct TestTensor {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::string bytes;          // little-endian element data, product(shape) * DTypeSize(dtype)
  std::vector<float> values;  // what the bytes hold, for float dtypes
};

// IEEE binary16, round-to-nearest-even (kernels/dtype.h only decodes F16).
uint16_t FloatToF16(float value);

// A float tensor holding `values` (exactly representable in `dtype`, or rounded).
// REQUIRES: dtype is F32, F16 or BF16; values.size() == product(shape).
TestTensor MakeFloatTensor(std::string name, DType dtype, std::vector<int64_t> shape,
                           std::span<const float> values);
// As above, with values drawn from `rng`: multiples of 1/16 in [-8, 8), exact in all three
// float dtypes, so a round trip compares with ==.
TestTensor RandomFloatTensor(std::string name, DType dtype, std::vector<int64_t> shape,
                             std::mt19937& rng);
// An I32 tensor 0, 1, 2, ...
TestTensor MakeI32Tensor(std::string name, std::vector<int64_t> shape);

// The safetensors image of `tensors`, laid out in the given order, with a __metadata__
// entry and the header padded with spaces to a multiple of 8 (as the reference writer).
std::string BuildSafetensors(const std::vector<TestTensor>& tensors);
// An image from a literal header (written as is, unpadded) and data section.
std::string BuildRawSafetensors(std::string_view header_json, std::string_view data);

// Writes `bytes` to `path`; a failure is a test failure.
void WriteFile(const std::filesystem::path& path, std::string_view bytes);
void WriteSafetensors(const std::filesystem::path& path, const std::vector<TestTensor>& tensors);

// Writes shard i as dir/model-0000{i+1}-of-0000{n}.safetensors and an index whose
// weight_map lists every tensor of every shard. Returns the shard file names.
std::vector<std::string> WriteShardedCheckpoint(const std::filesystem::path& dir,
                                                const std::vector<std::vector<TestTensor>>& shards);

// The values a float tensor's bytes decode to (kernels/dtype.h WidenToFloat).
std::vector<float> DecodeFloats(DType dtype, std::span<const std::byte> data);

}  // namespace loom::testing
