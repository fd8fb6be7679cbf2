#include "tests/engine/model/safetensors_writer.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <utility>

#include "nlohmann/json.hpp"

namespace loom::testing {
namespace {

int64_t NumElements(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

template <typename T>
void AppendLittleEndian(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // little-endian host (checked by the loader)
  out.append(bytes, sizeof(T));
}

}  // namespace

uint16_t FloatToF16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (magnitude >= 0x477ff000u)
    return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to inf (>= 65520)
  if (magnitude < 0x38800000u) {                   // below 2^-14: subnormal or zero
    // Subnormal halves are multiples of 2^-24; scaling by a power of two is exact.
    const float scaled = std::bit_cast<float>(magnitude) * 16777216.0f;
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  const uint32_t exponent = (magnitude >> 23) - 112;  // rebias 127 -> 15
  const uint32_t mantissa = magnitude & 0x7fffffu;
  uint32_t half = (exponent << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // may carry into exponent
  return static_cast<uint16_t>(sign | half);
}

TestTensor MakeFloatTensor(std::string name, DType dtype, std::vector<int64_t> shape,
                           std::span<const float> values) {
  EXPECT_EQ(static_cast<int64_t>(values.size()), NumElements(shape)) << name;
  TestTensor tensor{std::move(name), dtype, std::move(shape), "", {}};
  for (float value : values) {
    switch (dtype) {
      case DType::kF32:
        AppendLittleEndian(tensor.bytes, value);
        tensor.values.push_back(value);
        break;
      case DType::kBF16: {
        const uint16_t bits = FloatToBF16(value);
        AppendLittleEndian(tensor.bytes, bits);
        tensor.values.push_back(BF16ToFloat(bits));
        break;
      }
      case DType::kF16: {
        const uint16_t bits = FloatToF16(value);
        AppendLittleEndian(tensor.bytes, bits);
        tensor.values.push_back(F16ToFloat(bits));
        break;
      }
      default:
        ADD_FAILURE() << "MakeFloatTensor: " << DTypeName(dtype) << " is not a float type";
        return tensor;
    }
  }
  return tensor;
}

TestTensor RandomFloatTensor(std::string name, DType dtype, std::vector<int64_t> shape,
                             std::mt19937& rng) {
  std::uniform_int_distribution<int> sixteenths(-128, 127);
  std::vector<float> values(static_cast<size_t>(NumElements(shape)));
  for (float& value : values) value = static_cast<float>(sixteenths(rng)) / 16.0f;
  return MakeFloatTensor(std::move(name), dtype, std::move(shape), values);
}

TestTensor MakeI32Tensor(std::string name, std::vector<int64_t> shape) {
  TestTensor tensor{std::move(name), DType::kI32, std::move(shape), "", {}};
  const int64_t count = NumElements(tensor.shape);
  for (int32_t i = 0; i < count; ++i) AppendLittleEndian(tensor.bytes, i);
  return tensor;
}

std::string BuildSafetensors(const std::vector<TestTensor>& tensors) {
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}};
  std::string data;
  for (const TestTensor& tensor : tensors) {
    const size_t begin = data.size();
    data += tensor.bytes;
    header[tensor.name] = {{"dtype", DTypeName(tensor.dtype)},
                           {"shape", tensor.shape},
                           {"data_offsets", {begin, data.size()}}};
  }
  std::string header_text = header.dump();
  header_text.resize((header_text.size() + 7) / 8 * 8, ' ');
  return BuildRawSafetensors(header_text, data);
}

std::string BuildRawSafetensors(std::string_view header_json, std::string_view data) {
  std::string image;
  AppendLittleEndian(image, static_cast<uint64_t>(header_json.size()));
  image += header_json;
  image += data;
  return image;
}

void WriteFile(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

void WriteSafetensors(const std::filesystem::path& path, const std::vector<TestTensor>& tensors) {
  WriteFile(path, BuildSafetensors(tensors));
}

std::vector<std::string> WriteShardedCheckpoint(
    const std::filesystem::path& dir, const std::vector<std::vector<TestTensor>>& shards) {
  std::vector<std::string> names;
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  size_t total_size = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string name = "model-0000" + std::to_string(i + 1) + "-of-0000" +
                             std::to_string(shards.size()) + ".safetensors";
    WriteSafetensors(dir / name, shards[i]);
    for (const TestTensor& tensor : shards[i]) {
      weight_map[tensor.name] = name;
      total_size += tensor.bytes.size();
    }
    names.push_back(name);
  }
  const nlohmann::ordered_json index = {{"metadata", {{"total_size", total_size}}},
                                        {"weight_map", weight_map}};
  WriteFile(dir / "model.safetensors.index.json", index.dump(2));
  return names;
}

std::vector<float> DecodeFloats(DType dtype, std::span<const std::byte> data) {
  std::vector<float> values(data.size() / DTypeSize(dtype));
  WidenToFloat(dtype, data.data(), values.size(), values.data());
  return values;
}

}  // namespace loom::testing
