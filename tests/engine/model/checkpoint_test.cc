#include "engine/model/checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "engine/model/model_config.h"
#include "tests/engine/model/safetensors_writer.h"
#include "tests/engine/model/scoped_temp_dir.h"
#include "tests/engine/model/test_status.h"

namespace loom {
namespace {

using ::loom::testing::BuildRawSafetensors;
using ::loom::testing::DecodeFloats;
using ::loom::testing::MakeI32Tensor;
using ::loom::testing::MessageOf;
using ::loom::testing::RandomFloatTensor;
using ::loom::testing::ScopedTempDir;
using ::loom::testing::TestTensor;
using ::loom::testing::WriteFile;
using ::loom::testing::WriteSafetensors;
using ::loom::testing::WriteShardedCheckpoint;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class CheckpointTest : public ::testing::Test {
 protected:
  // Three shards of a two-layer toy model, in three float dtypes.
  std::vector<std::vector<TestTensor>> ToyShards() {
    std::mt19937 rng(99);
    return {
        {RandomFloatTensor("model.embed_tokens.weight", DType::kBF16, {16, 8}, rng),
         RandomFloatTensor("model.layers.0.mlp.up_proj.weight", DType::kBF16, {12, 8}, rng)},
        {RandomFloatTensor("model.layers.1.mlp.up_proj.weight", DType::kF16, {12, 8}, rng),
         RandomFloatTensor("model.layers.1.input_layernorm.weight", DType::kF16, {8}, rng)},
        {RandomFloatTensor("model.norm.weight", DType::kF32, {8}, rng),
         RandomFloatTensor("lm_head.weight", DType::kF32, {16, 8}, rng)},
    };
  }

  absl::Status OpenStatus() { return Checkpoint::Open(dir_.path()).status(); }

  ScopedTempDir dir_;
};

TEST_F(CheckpointTest, OpensSingleFile) {
  std::mt19937 rng(5);
  const std::vector<TestTensor> tensors = {
      RandomFloatTensor("model.norm.weight", DType::kBF16, {8}, rng),
      RandomFloatTensor("model.embed_tokens.weight", DType::kF32, {4, 8}, rng),
  };
  WriteSafetensors(dir_.path() / "model.safetensors", tensors);

  absl::StatusOr<std::unique_ptr<Checkpoint>> checkpoint = Checkpoint::Open(dir_.path());
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_THAT((*checkpoint)->TensorNames(),
              ElementsAre("model.embed_tokens.weight", "model.norm.weight"));
  EXPECT_TRUE((*checkpoint)->Contains("model.norm.weight"));
  EXPECT_FALSE((*checkpoint)->Contains("lm_head.weight"));
  EXPECT_EQ((*checkpoint)->FileOf("model.norm.weight"), dir_.path() / "model.safetensors");
  EXPECT_TRUE((*checkpoint)->FileOf("lm_head.weight").empty());

  const int64_t shape[] = {4, 8};
  absl::StatusOr<const TensorInfo*> embed =
      (*checkpoint)->GetFloat("model.embed_tokens.weight", shape);
  ASSERT_TRUE(embed.ok()) << embed.status();
  EXPECT_EQ(DecodeFloats((*embed)->dtype, (*embed)->data), tensors[1].values);
  absl::StatusOr<const TensorInfo*> norm = (*checkpoint)->Get("model.norm.weight");
  ASSERT_TRUE(norm.ok()) << norm.status();
  EXPECT_EQ(DecodeFloats((*norm)->dtype, (*norm)->data), tensors[0].values);
}

TEST_F(CheckpointTest, OpensShardedDirectoryThroughIndex) {
  const std::vector<std::vector<TestTensor>> shards = ToyShards();
  const std::vector<std::string> shard_names = WriteShardedCheckpoint(dir_.path(), shards);

  absl::StatusOr<std::unique_ptr<Checkpoint>> checkpoint = Checkpoint::Open(dir_.path());
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ((*checkpoint)->TensorNames().size(), 6u);
  for (size_t i = 0; i < shards.size(); ++i) {
    for (const TestTensor& expected : shards[i]) {
      absl::StatusOr<const TensorInfo*> tensor =
          (*checkpoint)->GetFloat(expected.name, expected.shape);
      ASSERT_TRUE(tensor.ok()) << tensor.status();
      EXPECT_EQ((*tensor)->dtype, expected.dtype) << expected.name;
      EXPECT_EQ(DecodeFloats((*tensor)->dtype, (*tensor)->data), expected.values) << expected.name;
      EXPECT_EQ((*checkpoint)->FileOf(expected.name), dir_.path() / shard_names[i]);
    }
  }
}

TEST_F(CheckpointTest, PrefersSingleFileOverIndex) {
  WriteShardedCheckpoint(dir_.path(), ToyShards());
  std::mt19937 rng(3);
  WriteSafetensors(dir_.path() / "model.safetensors",
                   {RandomFloatTensor("only", DType::kF32, {2}, rng)});
  absl::StatusOr<std::unique_ptr<Checkpoint>> checkpoint = Checkpoint::Open(dir_.path());
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_THAT((*checkpoint)->TensorNames(), ElementsAre("only"));
}

TEST_F(CheckpointTest, MissingTensorNamesDirectoryTensorAndFile) {
  std::mt19937 rng(5);
  WriteSafetensors(dir_.path() / "model.safetensors",
                   {RandomFloatTensor("model.norm.weight", DType::kBF16, {8}, rng)});
  absl::StatusOr<std::unique_ptr<Checkpoint>> checkpoint = Checkpoint::Open(dir_.path());
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  absl::StatusOr<const TensorInfo*> tensor =
      (*checkpoint)->Get("model.layers.3.mlp.up_proj.weight");
  ASSERT_FALSE(tensor.ok());
  EXPECT_EQ(tensor.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(MessageOf(tensor.status()),
              AllOf(HasSubstr(dir_.path().string()),
                    HasSubstr("tensor 'model.layers.3.mlp.up_proj.weight' not found"),
                    HasSubstr("(looked in model.safetensors)")));
  const int64_t shape[] = {8};
  EXPECT_EQ((*checkpoint)->GetFloat("lm_head.weight", shape).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(CheckpointTest, MissingTensorInShardedCheckpointNamesTheIndex) {
  WriteShardedCheckpoint(dir_.path(), ToyShards());
  absl::StatusOr<std::unique_ptr<Checkpoint>> checkpoint = Checkpoint::Open(dir_.path());
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  absl::StatusOr<const TensorInfo*> tensor =
      (*checkpoint)->Get("model.layers.7.mlp.up_proj.weight");
  ASSERT_FALSE(tensor.ok());
  EXPECT_EQ(tensor.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(MessageOf(tensor.status()),
              AllOf(HasSubstr("'model.layers.7.mlp.up_proj.weight'"),
                    HasSubstr("model.safetensors.index.json"), HasSubstr("3 shards")));
}

TEST_F(CheckpointTest, WrongShapeNamesFileTensorAndBothShapes) {
  WriteShardedCheckpoint(dir_.path(), ToyShards());
  absl::StatusOr<std::unique_ptr<Checkpoint>> checkpoint = Checkpoint::Open(dir_.path());
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  const int64_t transposed[] = {8, 12};
  absl::StatusOr<const TensorInfo*> tensor =
      (*checkpoint)->GetFloat("model.layers.1.mlp.up_proj.weight", transposed);
  ASSERT_FALSE(tensor.ok());
  EXPECT_EQ(tensor.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MessageOf(tensor.status()),
            (dir_.path() / "model-00002-of-00003.safetensors").string() +
                ": tensor 'model.layers.1.mlp.up_proj.weight' has shape [12, 8], expected [8, 12]");
  const int64_t rank_one[] = {96};
  EXPECT_EQ((*checkpoint)->GetFloat("model.layers.1.mlp.up_proj.weight", rank_one).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CheckpointTest, GetFloatRejectsIntegerTensors) {
  WriteSafetensors(dir_.path() / "model.safetensors", {MakeI32Tensor("positions", {4})});
  absl::StatusOr<std::unique_ptr<Checkpoint>> checkpoint = Checkpoint::Open(dir_.path());
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  const int64_t shape[] = {4};
  EXPECT_TRUE((*checkpoint)->Get("positions").ok());
  absl::Status status = (*checkpoint)->GetFloat("positions", shape).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(status), AllOf(HasSubstr("model.safetensors"), HasSubstr("'positions'"),
                                       HasSubstr("dtype I32")));
}

TEST_F(CheckpointTest, MissingShardIsNamed) {
  const std::vector<std::string> shards = WriteShardedCheckpoint(dir_.path(), ToyShards());
  std::filesystem::remove(dir_.path() / shards[2]);
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(MessageOf(status), AllOf(HasSubstr("model.safetensors.index.json"),
                                       HasSubstr("shard 'model-00003-of-00003.safetensors'"),
                                       HasSubstr("'lm_head.weight'")));
}

TEST_F(CheckpointTest, MalformedIndexIsRejected) {
  const struct {
    const char* index;
    const char* needle;
  } kCases[] = {
      {R"({"weight_map": {"a": "x.safetensors")", "not valid JSON"},
      {R"(["weight_map"])", "expected a JSON object"},
      {R"({"metadata": {}})", "missing 'weight_map'"},
      {R"({"weight_map": []})", "missing 'weight_map'"},
      {R"({"weight_map": {}})", "'weight_map' is empty"},
      {R"({"weight_map": {"model.norm.weight": 3}})", "'model.norm.weight' maps to 3"},
      {R"({"weight_map": {"model.norm.weight": "../model.safetensors"}})",
       "not a file name in the model directory"},
      {R"({"weight_map": {"model.norm.weight": "/dev/zero"}})", "not a file name"},
  };
  for (const auto& test_case : kCases) {
    WriteFile(dir_.path() / "model.safetensors.index.json", test_case.index);
    absl::Status status = OpenStatus();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << test_case.index;
    EXPECT_THAT(MessageOf(status),
                AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr(test_case.needle)))
        << test_case.index;
  }
}

TEST_F(CheckpointTest, TensorListedInIndexButAbsentFromShardIsNamed) {
  WriteShardedCheckpoint(dir_.path(), ToyShards());
  // Rewrite shard 2 without one of its tensors; the index still lists it.
  std::mt19937 rng(1);
  WriteSafetensors(
      dir_.path() / "model-00002-of-00003.safetensors",
      {RandomFloatTensor("model.layers.1.mlp.up_proj.weight", DType::kF16, {12, 8}, rng)});
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(status), AllOf(HasSubstr("model.safetensors.index.json"),
                                       HasSubstr("'model.layers.1.input_layernorm.weight'"),
                                       HasSubstr("model-00002-of-00003.safetensors")));
}

TEST_F(CheckpointTest, CorruptShardNamesShardAndTensor) {
  WriteShardedCheckpoint(dir_.path(), ToyShards());
  WriteFile(dir_.path() / "model-00003-of-00003.safetensors",
            BuildRawSafetensors(R"({"model.norm.weight":{"dtype":"F32","shape":[8],)"
                                R"("data_offsets":[0,32]}})",
                                std::string(16, '\0')));
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(status), AllOf(HasSubstr("model-00003-of-00003.safetensors"),
                                       HasSubstr("'model.norm.weight'"), HasSubstr("truncated")));
}

TEST_F(CheckpointTest, DirectoryWithoutWeightsIsNotFound) {
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(MessageOf(status),
            "no model.safetensors or model.safetensors.index.json in " + dir_.path().string());
}

TEST_F(CheckpointTest, PyTorchPicklesAreUnsupported) {
  WriteFile(dir_.path() / "pytorch_model.bin", "PK\x03\x04");
  absl::Status status = OpenStatus();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(MessageOf(status), AllOf(HasSubstr("pytorch_model.bin"), HasSubstr("safetensors")));
}

TEST_F(CheckpointTest, MissingDirectoryIsNotFound) {
  absl::Status status = Checkpoint::Open(dir_.path() / "nope").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(MessageOf(status), HasSubstr("nope"));
}

// The bundled model: every tensor a tied Llama needs, at the shapes its config implies.
TEST(BundledCheckpointTest, TinyShakespeareHasEveryLlamaTensor) {
  const std::filesystem::path dir = LOOM_SOURCE_DIR "/models/tiny-shakespeare-llama";
  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<std::unique_ptr<Checkpoint>> checkpoint = Checkpoint::Open(dir);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();

  const int64_t hidden = config->hidden_size;
  const int64_t q_rows = int64_t{config->num_attention_heads} * config->head_dim;
  const int64_t kv_rows = int64_t{config->num_key_value_heads} * config->head_dim;
  const int64_t ffn = config->intermediate_size;
  ASSERT_EQ(hidden, 256);
  ASSERT_EQ(kv_rows, 64);
  struct Expected {
    std::string name;
    std::vector<int64_t> shape;
  };
  std::vector<Expected> expected = {
      {"model.embed_tokens.weight", {config->vocab_size, hidden}},
      {"model.norm.weight", {hidden}},
  };
  for (int layer = 0; layer < config->num_hidden_layers; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    expected.push_back({prefix + "input_layernorm.weight", {hidden}});
    expected.push_back({prefix + "post_attention_layernorm.weight", {hidden}});
    expected.push_back({prefix + "self_attn.q_proj.weight", {q_rows, hidden}});
    expected.push_back({prefix + "self_attn.k_proj.weight", {kv_rows, hidden}});
    expected.push_back({prefix + "self_attn.v_proj.weight", {kv_rows, hidden}});
    expected.push_back({prefix + "self_attn.o_proj.weight", {hidden, q_rows}});
    expected.push_back({prefix + "mlp.gate_proj.weight", {ffn, hidden}});
    expected.push_back({prefix + "mlp.up_proj.weight", {ffn, hidden}});
    expected.push_back({prefix + "mlp.down_proj.weight", {hidden, ffn}});
  }
  EXPECT_EQ((*checkpoint)->TensorNames().size(), expected.size());
  for (const Expected& tensor : expected) {
    absl::StatusOr<const TensorInfo*> info = (*checkpoint)->GetFloat(tensor.name, tensor.shape);
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ((*info)->dtype, DType::kBF16) << tensor.name;
    // Trained weights: finite and not all zero.
    const std::vector<float> values = DecodeFloats((*info)->dtype, (*info)->data);
    bool any_nonzero = false;
    for (float value : values) {
      ASSERT_TRUE(std::isfinite(value)) << tensor.name;
      any_nonzero |= value != 0.0f;
    }
    EXPECT_TRUE(any_nonzero) << tensor.name;
  }
  EXPECT_TRUE(config->tie_word_embeddings);
  EXPECT_FALSE((*checkpoint)->Contains("lm_head.weight"));
}

}  // namespace
}  // namespace loom
