#include "engine/model/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tests/engine/model/safetensors_writer.h"
#include "tests/engine/model/scoped_temp_dir.h"
#include "tests/engine/model/test_status.h"

namespace loom {
namespace {

using ::loom::testing::BuildRawSafetensors;
using ::loom::testing::BuildSafetensors;
using ::loom::testing::DecodeFloats;
using ::loom::testing::MakeFloatTensor;
using ::loom::testing::MakeI32Tensor;
using ::loom::testing::MessageOf;
using ::loom::testing::RandomFloatTensor;
using ::loom::testing::ScopedTempDir;
using ::loom::testing::TestTensor;
using ::loom::testing::WriteFile;
using ::loom::testing::WriteSafetensors;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SafetensorsTest : public ::testing::Test {
 protected:
  // Writes `bytes` as <temp>/<name> and opens it.
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> OpenBytes(const std::string& bytes,
                                                             const std::string& name = "x.st") {
    const std::filesystem::path path = dir_.path() / name;
    WriteFile(path, bytes);
    return SafetensorsFile::Open(path);
  }
  // Opens a file whose header is `header_json` and whose data section is `data`, and
  // expects InvalidArgument whose message names the file and contains every `needle`.
  void ExpectInvalid(const std::string& header_json, const std::string& data,
                     std::vector<std::string> needles) {
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
        OpenBytes(BuildRawSafetensors(header_json, data), "bad.safetensors");
    ASSERT_FALSE(file.ok()) << header_json;
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument) << file.status();
    EXPECT_THAT(MessageOf(file.status()), HasSubstr("bad.safetensors"));
    for (const std::string& needle : needles) {
      EXPECT_THAT(MessageOf(file.status()), HasSubstr(needle));
    }
  }

  ScopedTempDir dir_;
};

TEST_F(SafetensorsTest, RoundTripsFloatValuesOfEveryFloatDType) {
  std::mt19937 rng(1234);
  const std::vector<TestTensor> tensors = {
      RandomFloatTensor("a.bf16", DType::kBF16, {3, 5}, rng),
      RandomFloatTensor("b.f16", DType::kF16, {7}, rng),
      RandomFloatTensor("c.f32", DType::kF32, {2, 3, 4}, rng),
  };
  const std::filesystem::path path = dir_.path() / "model.safetensors";
  WriteSafetensors(path, tensors);

  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->path(), path);
  ASSERT_EQ((*file)->tensors().size(), tensors.size());
  for (const TestTensor& expected : tensors) {
    const TensorInfo* tensor = (*file)->Find(expected.name);
    ASSERT_NE(tensor, nullptr) << expected.name;
    EXPECT_EQ(tensor->name, expected.name);
    EXPECT_EQ(tensor->dtype, expected.dtype) << expected.name;
    EXPECT_EQ(tensor->shape, expected.shape) << expected.name;
    EXPECT_EQ(tensor->num_elements(), static_cast<int64_t>(expected.values.size()));
    EXPECT_EQ(tensor->data.size(), expected.bytes.size()) << expected.name;
    EXPECT_EQ(DecodeFloats(tensor->dtype, tensor->data), expected.values) << expected.name;
  }
}

TEST_F(SafetensorsTest, F16WriterRoundsLikeIeee) {
  // Guards the test writer itself: exact values survive, others round to nearest even.
  const float exact[] = {0.0f,
                         -0.0f,
                         1.0f,
                         -2.5f,
                         65504.0f,
                         6.103515625e-05f,
                         5.960464477539063e-08f /* smallest subnormal */};
  for (float value : exact) EXPECT_EQ(F16ToFloat(testing::FloatToF16(value)), value) << value;
  EXPECT_EQ(F16ToFloat(testing::FloatToF16(1.0f + 1.0f / 2048)), 1.0f);  // tie -> even
  EXPECT_EQ(F16ToFloat(testing::FloatToF16(1.0f + 3.0f / 2048)), 1.0f + 1.0f / 512);
  EXPECT_TRUE(std::isinf(F16ToFloat(testing::FloatToF16(70000.0f))));
}

TEST_F(SafetensorsTest, SortsTensorsByNameAndFindsOnlyExistingOnes) {
  const float values[] = {1, 2};
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = OpenBytes(BuildSafetensors({
      MakeFloatTensor("zeta", DType::kF32, {2}, values),
      MakeFloatTensor("alpha", DType::kF32, {2}, values),
      MakeI32Tensor("mid", {2, 2}),
  }));
  ASSERT_TRUE(file.ok()) << file.status();
  std::vector<std::string> names;
  for (const TensorInfo& tensor : (*file)->tensors()) names.push_back(tensor.name);
  EXPECT_THAT(names, ElementsAre("alpha", "mid", "zeta"));
  EXPECT_EQ((*file)->Find("__metadata__"), nullptr);
  EXPECT_EQ((*file)->Find("alph"), nullptr);
  EXPECT_EQ((*file)->Find(""), nullptr);
  ASSERT_NE((*file)->Find("mid"), nullptr);
  EXPECT_EQ((*file)->Find("mid")->dtype, DType::kI32);
}

TEST_F(SafetensorsTest, AcceptsScalarsEmptyTensorsGapsAndUnpaddedHeaders) {
  const std::string header = R"({"scalar":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                             R"("empty":{"dtype":"BF16","shape":[0,16],"data_offsets":[4,4]},)"
                             R"("after_gap":{"dtype":"U8","shape":[2],"data_offsets":[6,8]},)"
                             R"("__metadata__":{"format":"pt"}})";
  const std::string data(
      "\x00\x00\x80\x3f"
      "xx"
      "\x07\x09",
      8);
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      OpenBytes(BuildRawSafetensors(header, data));
  ASSERT_TRUE(file.ok()) << file.status();
  const TensorInfo* scalar = (*file)->Find("scalar");
  ASSERT_NE(scalar, nullptr);
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->num_elements(), 1);
  EXPECT_THAT(DecodeFloats(DType::kF32, scalar->data), ElementsAre(1.0f));
  ASSERT_NE((*file)->Find("empty"), nullptr);
  EXPECT_EQ((*file)->Find("empty")->num_elements(), 0);
  EXPECT_TRUE((*file)->Find("empty")->data.empty());
  ASSERT_NE((*file)->Find("after_gap"), nullptr);
  EXPECT_EQ(std::to_integer<int>((*file)->Find("after_gap")->data[1]), 9);
}

TEST_F(SafetensorsTest, MissingFileIsNotFound) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::Open(dir_.path() / "absent.safetensors");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(MessageOf(file.status()), HasSubstr("absent.safetensors"));
}

TEST_F(SafetensorsTest, DirectoryIsRejected) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(dir_.path());
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(file.status()), HasSubstr("not a regular file"));
}

TEST_F(SafetensorsTest, FileShorterThanHeaderLengthIsRejected) {
  for (const std::string& bytes : {std::string(), std::string("\x10\x00\x00", 3)}) {
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = OpenBytes(bytes, "short.st");
    ASSERT_FALSE(file.ok());
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(MessageOf(file.status()), AllOf(HasSubstr("short.st"), HasSubstr("too short")));
  }
}

TEST_F(SafetensorsTest, HeaderLengthPastEndOfFileIsRejected) {
  std::string bytes = BuildRawSafetensors("{}", "");
  bytes[0] = '\x40';  // declares 64 header bytes; 2 follow
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = OpenBytes(bytes, "cut.st");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(file.status()),
              AllOf(HasSubstr("cut.st"), HasSubstr("oversized header"), HasSubstr("64")));
}

TEST_F(SafetensorsTest, HeaderLengthOverTheCapIsRejected) {
  for (const uint64_t length : {SafetensorsFile::kMaxHeaderBytes + 1, ~uint64_t{0}}) {
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
    bytes += "{}";
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = OpenBytes(bytes, "huge.st");
    ASSERT_FALSE(file.ok());
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(MessageOf(file.status()),
                AllOf(HasSubstr("huge.st"), HasSubstr("oversized header"), HasSubstr("limit")));
  }
}

TEST_F(SafetensorsTest, CorruptHeaderJsonIsRejected) {
  ExpectInvalid(R"({"a":{"dtype":"F32",)", "", {"not valid JSON"});
  ExpectInvalid("", "", {"not valid JSON"});
  ExpectInvalid(std::string("{\"\xff\":1}"), "", {"not valid JSON"});  // not UTF-8
  ExpectInvalid("[1, 2]", "", {"expected an object"});
}

TEST_F(SafetensorsTest, EntryWithoutDtypeShapeOrOffsetsIsRejected) {
  ExpectInvalid(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'),
                {"'w'", "missing 'dtype'"});
  ExpectInvalid(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", std::string(4, '\0'),
                {"'w'", "missing 'shape'"});
  ExpectInvalid(R"({"w":{"dtype":"F32","shape":[1]}})", std::string(4, '\0'),
                {"'w'", "missing 'data_offsets'"});
  ExpectInvalid(R"({"w":[1, 2]})", "", {"'w'", "expected an object"});
  ExpectInvalid(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'),
                {"'w'", "'dtype' is not a string"});
}

TEST_F(SafetensorsTest, UnsupportedDtypeIsRejected) {
  ExpectInvalid(R"({"model.norm.weight":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}})",
                std::string(1, '\0'), {"'model.norm.weight'", "unsupported dtype 'F4'"});
}

TEST_F(SafetensorsTest, BadShapesAreRejected) {
  ExpectInvalid(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", std::string(4, '\0'),
                {"'w'", "non-negative integers"});
  ExpectInvalid(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", std::string(4, '\0'),
                {"'w'", "non-negative integers"});
  ExpectInvalid(R"({"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", std::string(8, '\0'),
                {"'w'", "'shape' is not an array"});
}

TEST_F(SafetensorsTest, ShapeWhoseSizeOverflowsIsRejected) {
  ExpectInvalid(R"({"w":{"dtype":"BF16","shape":[4611686018427387904,4],"data_offsets":[0,8]}})",
                std::string(8, '\0'), {"'w'", "overflows"});
  ExpectInvalid(R"({"w":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})",
                std::string(8, '\0'), {"'w'", "non-negative integers"});
}

TEST_F(SafetensorsTest, BadDataOffsetsAreRejected) {
  ExpectInvalid(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", std::string(4, '\0'),
                {"'w'", "end before they begin"});
  ExpectInvalid(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", std::string(4, '\0'),
                {"'w'", "[begin, end]"});
  ExpectInvalid(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", std::string(4, '\0'),
                {"'w'", "non-negative integers"});
  ExpectInvalid(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", std::string(8, '\0'),
                {"'w'", "span 4 bytes", "needs 8"});
}

TEST_F(SafetensorsTest, OffsetsPastTheEndNameTheTensor) {
  ExpectInvalid(R"({"ok":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                R"("model.embed_tokens.weight":{"dtype":"F32","shape":[4],"data_offsets":[4,20]}})",
                std::string(8, '\0'),
                {"'model.embed_tokens.weight'", "truncated", "ends at byte 20", "only 8"});
}

TEST_F(SafetensorsTest, TruncatedFileNamesFileAndTensor) {
  std::mt19937 rng(7);
  std::string bytes = BuildSafetensors({RandomFloatTensor("first", DType::kBF16, {4, 4}, rng),
                                        RandomFloatTensor("last", DType::kF32, {8}, rng)});
  bytes.resize(bytes.size() - 5);
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = OpenBytes(bytes, "cut.safetensors");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(file.status()),
              AllOf(HasSubstr("cut.safetensors"), HasSubstr("'last'"), HasSubstr("truncated")));
}

TEST_F(SafetensorsTest, OverlappingTensorsAreRejected) {
  ExpectInvalid(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                std::string(12, '\0'), {"'b'", "overlap tensor 'a'"});
  // A tensor nested inside a longer one that began earlier.
  ExpectInvalid(R"({"long":{"dtype":"U8","shape":[10],"data_offsets":[0,10]},)"
                R"("short":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},)"
                R"("inner":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}})",
                std::string(10, '\0'), {"overlap tensor 'long'"});
}

// Random damage to a valid file must give a Status, never a crash or an out-of-bounds
// read (this suite also runs under ASan and UBSan).
TEST_F(SafetensorsTest, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(20240601);
  const std::string valid =
      BuildSafetensors({RandomFloatTensor("a", DType::kBF16, {4, 3}, rng),
                        RandomFloatTensor("b", DType::kF16, {5}, rng), MakeI32Tensor("c", {3})});
  const size_t header_end = 8 + (static_cast<size_t>(static_cast<unsigned char>(valid[0])) |
                                 static_cast<size_t>(static_cast<unsigned char>(valid[1])) << 8);
  int num_ok = 0;
  int num_rejected = 0;
  unsigned total_checksum = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::string bytes = valid;
    const int kind = trial % 3;
    if (kind == 0) {  // flip bytes in the length or the header
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < flips; ++i) {
        bytes[rng() % header_end] = static_cast<char>(rng() & 0xff);
      }
    } else if (kind == 1) {  // truncate anywhere
      bytes.resize(rng() % bytes.size());
    } else {  // replace a header digit with another digit
      const size_t at = 8 + rng() % (header_end - 8);
      if (bytes[at] >= '0' && bytes[at] <= '9') bytes[at] = static_cast<char>('0' + rng() % 10);
    }
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = OpenBytes(bytes, "fuzz.st");
    if (!file.ok()) {
      ++num_rejected;
      EXPECT_THAT(MessageOf(file.status()), HasSubstr("fuzz.st"));
      continue;
    }
    ++num_ok;
    unsigned checksum = 0;
    for (const TensorInfo& tensor : (*file)->tensors()) {
      EXPECT_EQ(tensor.data.size(),
                static_cast<size_t>(tensor.num_elements()) * DTypeSize(tensor.dtype));
      for (std::byte b : tensor.data) checksum += std::to_integer<unsigned>(b);
    }
    total_checksum += checksum;
  }
  RecordProperty("checksum", std::to_string(total_checksum));  // keeps the reads alive
  EXPECT_GT(num_rejected, 100);
  EXPECT_GT(num_ok, 10);
}

}  // namespace
}  // namespace loom
