#include "server/config/model_config_yaml.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <variant>

#include "kernels/backend_factory.h"
#include "yaml-cpp/yaml.h"

namespace loom {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<ModelYaml> Parse(const std::string& text) {
  return ParseModelYaml(YAML::Load(text), "/etc/loom/models/tiny.yaml", "/etc/loom/models");
}

ModelYaml ParseOk(const std::string& text) {
  absl::StatusOr<ModelYaml> model = Parse(text);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *std::move(model) : ModelYaml{};
}

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<ModelYaml> model = Parse(text);
  EXPECT_FALSE(model.ok()) << text;
  return model.ok() ? "" : std::string(model.status().message());
}

constexpr char kFile[] = "/etc/loom/models/tiny.yaml";

// The bundled model's shape: 2048 positions, 4 layers of 2 KV heads x 32, 2048 tokens.
ModelConfig TinyConfig() {
  ModelConfig config;
  config.vocab_size = 2048;
  config.max_position_embeddings = 2048;
  config.num_hidden_layers = 4;
  config.num_key_value_heads = 2;
  config.head_dim = 32;
  return config;
}

absl::StatusOr<ModelLaunch> Plan(const std::string& text, uint64_t memory_bytes = 0) {
  absl::StatusOr<ModelYaml> model = Parse(text);
  if (!model.ok()) return model.status();
  return PlanModelLaunch(*model, ServerConfig{}, TinyConfig(), memory_bytes);
}

TEST(ModelYamlTest, OnlyPathIsRequiredAndTheNameIsTheFileStem) {
  ModelYaml model = ParseOk("path: ../weights/tiny\n");
  EXPECT_EQ(model.name, "tiny");
  EXPECT_EQ(model.path, "/etc/loom/weights/tiny");
  EXPECT_EQ(model.backend, BackendKind::kCpu);
  EXPECT_EQ(model.dtype, "auto");
  EXPECT_EQ(model.max_batch_size, EngineOptions{}.max_batch_size);
  EXPECT_FALSE(model.cache_max_entry_count.has_value());
  EXPECT_TRUE(std::holds_alternative<std::monostate>(model.chat_template));
  EXPECT_EQ(ErrorOf("name: x\n"),
            std::string(kFile) +
                ":1:1: path is required: the model's Hugging Face directory (relative to this "
                "file, or absolute)");
}

TEST(ModelYamlTest, AbsolutePathsStayAsTheyAre) {
  EXPECT_EQ(ParseOk("path: /models/tiny/\n").path, "/models/tiny/");
  EXPECT_EQ(ParseOk("path: ./tiny\n").path, "/etc/loom/models/tiny");
}

TEST(ModelYamlTest, ReadsEveryKey) {
  ModelYaml model = ParseOk(R"(name: big
path: /models/big
backend: cuda
dtype: bfloat16
tp: 2
devices: [3, 1, 0, 2]
replicas: 2
max_batch_size: 3
max_prefill_tokens: 100
session_len: 1000
cache_max_entry_count: 0.25
block_size: 16
enable_prefix_caching: false
async_scheduling: false
quant_policy: 8
chat_template: chatml
sampling:
  temperature: 0.5
  top_p: 0.9
  top_k: 40
  min_p: 0.05
  repetition_penalty: 1.1
  presence_penalty: -0.5
  frequency_penalty: 2
  max_tokens: 64
  stop: ["\n\n", END]
  stop_token_ids: [7, 9]
)");
  EXPECT_EQ(model.name, "big");
  EXPECT_EQ(model.backend, BackendKind::kCuda);
  EXPECT_EQ(model.dtype, "bfloat16");
  EXPECT_EQ(model.tp, 2);
  EXPECT_THAT(model.devices, ::testing::ElementsAre(3, 1, 0, 2));
  EXPECT_EQ(model.replicas, 2);
  EXPECT_EQ(model.max_batch_size, 3);
  EXPECT_EQ(model.max_prefill_tokens, 100);
  EXPECT_EQ(model.session_len, 1000);
  EXPECT_EQ(model.cache_max_entry_count, 0.25);
  EXPECT_EQ(model.block_size, 16);
  EXPECT_FALSE(model.enable_prefix_caching);
  EXPECT_FALSE(model.async_scheduling);
  EXPECT_EQ(model.quant_policy, 8);
  ASSERT_TRUE(std::holds_alternative<NamedChatTemplate>(model.chat_template));
  EXPECT_EQ(std::get<NamedChatTemplate>(model.chat_template).name, "chatml");
  const SamplingDefaults& s = model.sampling;
  EXPECT_EQ(s.temperature, 0.5f);
  EXPECT_EQ(s.top_p, 0.9f);
  EXPECT_EQ(s.top_k, 40);
  EXPECT_EQ(s.min_p, 0.05f);
  EXPECT_EQ(s.repetition_penalty, 1.1f);
  EXPECT_EQ(s.presence_penalty, -0.5f);
  EXPECT_EQ(s.frequency_penalty, 2.0f);
  EXPECT_EQ(s.max_tokens, 64);
  EXPECT_THAT(s.stop, ::testing::ElementsAre("\n\n", "END"));
  EXPECT_THAT(s.stop_token_ids, ::testing::ElementsAre(7, 9));
  EXPECT_EQ(model.Where("sampling.top_k"), std::string(kFile) + ":20:10");
  EXPECT_EQ(model.Where("backend"), std::string(kFile) + ":3:10");
}

TEST(ModelYamlTest, UnknownKeysNameLineColumnAndTheNearestKey) {
  EXPECT_EQ(
      ErrorOf("path: x\nmax_bach_size: 4\n"),
      std::string(kFile) + ":2:1: unknown key 'max_bach_size'; did you mean 'max_batch_size'?");
  EXPECT_EQ(ErrorOf("path: x\nsampling:\n  temprature: 0.5\n"),
            std::string(kFile) +
                ":3:3: unknown key 'temprature' in sampling; did you mean 'temperature'?");
  EXPECT_EQ(ErrorOf("path: x\nsampling:\n  seed: 1\n"),
            std::string(kFile) +
                ":3:3: unknown key 'seed' in sampling; valid keys: temperature, top_p, top_k, "
                "min_p, repetition_penalty, presence_penalty, frequency_penalty, max_tokens, "
                "stop, stop_token_ids");
  // chat_template's own strict reader, through the same file name.
  EXPECT_EQ(
      ErrorOf("path: x\nchat_template:\n  base: llama3\n  sytem: hi\n"),
      std::string(kFile) + ":4:3: unknown key 'sytem' in chat_template; did you mean 'system'?");
}

TEST(ModelYamlTest, TypeErrorsNameTheKeyAndWhatWasFound) {
  EXPECT_EQ(ErrorOf("path: x\nmax_batch_size: many\n"),
            std::string(kFile) + ":2:17: max_batch_size must be an integer, not 'many'");
  EXPECT_EQ(ErrorOf("path: x\nenable_prefix_caching: yes\n"),
            std::string(kFile) + ":2:24: enable_prefix_caching must be true or false, not 'yes'");
  EXPECT_EQ(ErrorOf("path: x\nsampling:\n  temperature: hot\n"),
            std::string(kFile) + ":3:16: sampling.temperature must be a number, not 'hot'");
  EXPECT_EQ(ErrorOf("path: x\nsampling: 0.5\n"),
            std::string(kFile) + ":2:11: sampling must be a mapping, not a string");
  EXPECT_EQ(ErrorOf("path: x\ndevices: [0, gpu1]\n"),
            std::string(kFile) + ":2:14: devices[1] must be an integer, not 'gpu1'");
  EXPECT_EQ(ErrorOf("path: x\nsampling:\n  stop: [a, \"\"]\n"),
            std::string(kFile) + ":3:13: sampling.stop[1] must be a non-empty string, not empty");
  EXPECT_EQ(ErrorOf("path: [x]\n"), std::string(kFile) + ":1:7: path must be a string, not a list");
  EXPECT_EQ(ErrorOf("path: x\nbackend: gpu\n"),
            std::string(kFile) +
                ":2:10: backend must be one of cpu, cuda, not 'gpu'; did you "
                "mean 'cpu'?");
  EXPECT_EQ(ErrorOf("path: x\ndtype: bf16\n"),
            std::string(kFile) +
                ":2:8: dtype must be one of auto, float32, float16, bfloat16, not 'bf16'");
}

TEST(ModelYamlTest, RangeErrorsNameTheRangeAndTheValue) {
  EXPECT_EQ(ErrorOf("path: x\nsampling:\n  temperature: -1\n"),
            std::string(kFile) + ":3:16: sampling.temperature must be >= 0, got -1");
  EXPECT_EQ(ErrorOf("path: x\nsampling:\n  top_p: 0\n"),
            std::string(kFile) + ":3:10: sampling.top_p must be in (0, 1], got 0");
  EXPECT_EQ(ErrorOf("path: x\nsampling:\n  presence_penalty: 2.5\n"),
            std::string(kFile) + ":3:21: sampling.presence_penalty must be in [-2, 2], got 2.5");
  EXPECT_EQ(ErrorOf("path: x\nsampling:\n  max_tokens: 0\n"),
            std::string(kFile) + ":3:15: sampling.max_tokens must be >= 1, got 0");
  EXPECT_EQ(ErrorOf("path: x\nquant_policy: 3\n"),
            std::string(kFile) +
                ":2:15: quant_policy must be 0 (off), 4 or 8 (bits of the KV cache), got 3");
  EXPECT_EQ(ErrorOf("path: x\ncache_max_entry_count: 0\n"),
            std::string(kFile) +
                ":2:24: cache_max_entry_count must be a fraction in (0, 1) or a whole number of "
                "KV blocks >= 1, got 0");
  EXPECT_THAT(ErrorOf("path: x\ncache_max_entry_count: 1.5\n"), HasSubstr(":2:24: "));
  EXPECT_EQ(ErrorOf("path: x\nmax_prefill_tokens: 0\n"),
            std::string(kFile) + ":2:21: max_prefill_tokens must be >= 1, got 0");
  EXPECT_EQ(ErrorOf("path: x\nsession_len: -5\n"),
            std::string(kFile) + ":2:14: session_len must be >= 0, got -5");
  EXPECT_EQ(ErrorOf("path: x\ntp: 0\n"), std::string(kFile) + ":2:5: tp must be >= 1, got 0");
  EXPECT_EQ(
      ErrorOf("path: x\nmax_batch_size: 99999999999\n"),
      std::string(kFile) + ":2:17: max_batch_size must be in [1, 2147483647], got 99999999999");
}

TEST(ModelYamlTest, KeysThatContradictEachOtherAreErrors) {
  EXPECT_EQ(ErrorOf("path: x\ndevices: [0]\n"),
            std::string(kFile) +
                ":2:10: devices lists GPUs, which only backend: cuda uses; remove it or set "
                "backend: cuda");
  EXPECT_EQ(ErrorOf("path: x\nbackend: cuda\ntp: 2\ndevices: [0]\n"),
            std::string(kFile) + ":4:10: devices lists 1 GPUs; tp x replicas = 2 x 1 needs 2");
  EXPECT_EQ(ErrorOf("path: x\nbackend: cuda\ndevices: [1, 1]\n"),
            std::string(kFile) + ":3:10: devices lists GPU 1 twice");
  EXPECT_EQ(ErrorOf("name: \"my model\"\npath: x\n"),
            std::string(kFile) + ":1:7: name 'my model' must not hold whitespace");
}

TEST(ModelYamlTest, ChatTemplateFormsReachTheOverride) {
  ModelYaml jinja =
      ParseOk("path: x\nchat_template: \"{% for m in messages %}{{ m.content }}{% endfor %}\"\n");
  EXPECT_TRUE(std::holds_alternative<JinjaChatTemplateSource>(jinja.chat_template));
  ModelYaml named =
      ParseOk("path: x\nchat_template:\n  base: llama3\n  meta_instruction: Be brief.\n");
  ASSERT_TRUE(std::holds_alternative<NamedChatTemplate>(named.chat_template));
  EXPECT_EQ(std::get<NamedChatTemplate>(named.chat_template).meta_instruction, "Be brief.");
  EXPECT_THAT(ErrorOf("path: x\nchat_template: lama3\n"),
              HasSubstr(std::string(kFile) + ":2:16: chat_template 'lama3' is neither"));
}

TEST(ModelYamlTest, ThisBuildRefusesWhatItCannotRunNamingTheKey) {
  struct Case {
    std::string yaml;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"path: x\ndtype: bfloat16\n",
            ":2:8: dtype: bfloat16 is not supported yet by this build (the cpu backend computes "
            "in float32: use auto or float32)"},
           {"path: x\ntp: 2\n",
            ":2:5: tp: 2 is not supported yet by this build (tensor parallelism is not "
            "implemented yet)"},
           {"path: x\nreplicas: 2\n",
            ":2:11: replicas: 2 is not supported yet by this build (each model runs one engine)"},
           {"path: x\nquant_policy: 4\n",
            ":2:15: quant_policy: 4 is not supported yet by this build (the KV cache is not "
            "quantized yet)"},
       }) {
    ModelYaml model = ParseOk(c.yaml);
    absl::Status status = CheckSupportedByThisBuild(model);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented) << c.yaml;
    EXPECT_THAT(status.message(), HasSubstr(std::string(kFile) + c.message)) << c.yaml;
    absl::StatusOr<ModelLaunch> launch = PlanModelLaunch(model, ServerConfig{}, TinyConfig(), 0);
    EXPECT_EQ(launch.status(), status) << c.yaml;
  }
  EXPECT_TRUE(CheckSupportedByThisBuild(ParseOk("path: x\ndtype: float32\n")).ok());
  // backend: cuda runs exactly where the binary has the CUDA backend, in half precision.
  absl::Status cuda = CheckSupportedByThisBuild(ParseOk("path: x\nbackend: cuda\n"));
  absl::Status cuda_f32 =
      CheckSupportedByThisBuild(ParseOk("path: x\nbackend: cuda\ndtype: float32\n"));
  EXPECT_EQ(cuda.ok(), CudaBackendBuilt()) << cuda;
  EXPECT_EQ(cuda_f32.code(), absl::StatusCode::kUnimplemented);
  if (CudaBackendBuilt()) {
    EXPECT_THAT(cuda_f32.message(),
                HasSubstr(std::string(kFile) +
                          ":3:8: dtype: float32 is not supported yet by this build (the cuda "
                          "backend computes in bfloat16 or float16: use auto, bfloat16 or "
                          "float16)"));
  } else {
    EXPECT_THAT(cuda.message(),
                HasSubstr(std::string(kFile) + ":2:10: backend: cuda is not supported yet by this "
                                               "build (this loom was built without CUDA"));
    EXPECT_THAT(cuda_f32.message(), HasSubstr("built without CUDA"));
  }
  EXPECT_TRUE(CheckSupportedByThisBuild(
                  ParseOk("path: x\nsampling:\n  stop: [END]\n  stop_token_ids: [5]\n"))
                  .ok());
}

TEST(ModelYamlTest, PlanResolvesTheEngineOptions) {
  absl::StatusOr<ModelLaunch> launch = Plan(R"(path: /m
max_batch_size: 2
max_prefill_tokens: 256
block_size: 16
enable_prefix_caching: false
async_scheduling: false
sampling:
  temperature: 0
  max_tokens: 9
)");
  ASSERT_TRUE(launch.ok()) << launch.status();
  EXPECT_EQ(launch->dir, "/m");
  EXPECT_EQ(launch->name, "tiny");
  EXPECT_EQ(launch->engine.session_len, 2048);  // max_position_embeddings
  EXPECT_EQ(launch->engine.block_size, 16);
  EXPECT_EQ(launch->engine.max_batch_size, 2);
  EXPECT_EQ(launch->engine.max_prefill_tokens, 256);
  EXPECT_EQ(launch->engine.num_blocks, 2 * 2048 / 16);  // the default pool
  EXPECT_FALSE(launch->config.enable_prefix_caching);
  EXPECT_FALSE(launch->config.async_scheduling);
  EXPECT_EQ(launch->config.max_queued_requests, EngineConfig{}.max_queued_requests);
  EXPECT_EQ(launch->served.sampling.temperature, 0.0f);
  EXPECT_EQ(launch->served.sampling.max_tokens, 9);
}

TEST(ModelYamlTest, CacheMaxEntryCountIsABlockCountOrAFractionOfTheDefaultPool) {
  // A count.
  absl::StatusOr<ModelLaunch> launch =
      Plan("path: x\nsession_len: 512\ncache_max_entry_count: 40\n");
  ASSERT_TRUE(launch.ok()) << launch.status();
  EXPECT_EQ(launch->engine.num_blocks, 40);
  // A fraction of max_batch_size (8) sessions of 512 tokens in blocks of 64: 0.25 x 64.
  launch = Plan("path: x\nsession_len: 512\ncache_max_entry_count: 0.25\n");
  ASSERT_TRUE(launch.ok()) << launch.status();
  EXPECT_EQ(launch->engine.num_blocks, 16);
  // Rounds down.
  launch = Plan("path: x\nsession_len: 512\ncache_max_entry_count: 0.2\n");
  ASSERT_TRUE(launch.ok()) << launch.status();
  EXPECT_EQ(launch->engine.num_blocks, 12);
}

TEST(ModelYamlTest, WhatCannotFitFailsAtStartUpSayingWhy) {
  absl::StatusOr<ModelLaunch> launch = Plan("path: /m\nsession_len: 4096\n");
  EXPECT_EQ(launch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(launch.status().message(),
            std::string(kFile) +
                ":2:14: session_len 4096 exceeds the model's max_position_embeddings 2048 "
                "(/m/config.json)");

  launch = Plan("path: x\nsession_len: 1024\ncache_max_entry_count: 10\n");
  EXPECT_EQ(launch.status().message(),
            std::string(kFile) +
                ":3:24: the KV pool of 10 blocks x 64 tokens holds 640 tokens, fewer than "
                "session_len 1024, so not even one full-length session fits; set "
                "cache_max_entry_count to at least 16 blocks or lower session_len");

  // A fraction so small that less than one session fits.
  launch = Plan("path: x\nmax_batch_size: 1\ncache_max_entry_count: 0.5\n");
  EXPECT_THAT(launch.status().message(), HasSubstr(":3:24: the KV pool of 16 blocks x 64 tokens"));

  // 4 layers x 2 (K, V) x 2 heads x 32 x 4 bytes = 2 KiB per token; 8 x 2048 tokens = 32 MiB.
  launch = Plan("path: x\n", /*memory_bytes=*/16 << 20);
  EXPECT_EQ(launch.status().message(),
            std::string(kFile) +
                ": the KV pool of 256 blocks x 64 tokens needs 32.0 MiB (float32 keys and values "
                "of 4 layers x 2 KV heads x 32), more than this machine's 16.0 MiB of memory; "
                "lower cache_max_entry_count, max_batch_size or session_len");
  EXPECT_TRUE(Plan("path: x\n", /*memory_bytes=*/64 << 20).ok());

  launch = Plan("path: x\nsession_len: 100\nsampling:\n  max_tokens: 101\n");
  EXPECT_EQ(launch.status().message(),
            std::string(kFile) +
                ":4:15: sampling.max_tokens 101 exceeds session_len 100 (prompt + output)");

  launch = Plan("path: /m\nsampling:\n  stop_token_ids: [1, 2048]\n");
  EXPECT_EQ(launch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(launch.status().message(),
            std::string(kFile) +
                ":3:19: sampling.stop_token_ids[1] 2048 is outside the model's vocabulary [0, "
                "2048) (/m/config.json)");
}

TEST(ModelYamlTest, AModelGivenAsADirectoryIsNamedByIt) {
  ModelYaml model = ModelYamlForDirectory("/models/tiny-llama/", "");
  EXPECT_EQ(model.name, "tiny-llama");
  EXPECT_EQ(ModelYamlForDirectory("/models/tiny-llama", "").name, "tiny-llama");
  EXPECT_EQ(ModelYamlForDirectory("/models/tiny-llama", "t").name, "t");
  // Errors name the directory when no file or flag set the key.
  model.session_len = 9999;
  EXPECT_THAT(PlanModelLaunch(model, ServerConfig{}, TinyConfig(), 0).status().message(),
              HasSubstr("/models/tiny-llama/: session_len 9999 exceeds"));
}

class ModelYamlDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("loom_model_yaml_dir_test_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::filesystem::path dir_;
};

TEST_F(ModelYamlDirTest, LoadsEveryYamlFileInNameOrder) {
  Write("b.yaml", "path: weights/b\n");
  Write("a.yml", "name: first\npath: /abs/a\n");
  Write("README.md", "not a model\n");
  absl::StatusOr<std::vector<ModelYaml>> models = LoadModelYamlDir(dir_);
  ASSERT_TRUE(models.ok()) << models.status();
  ASSERT_EQ(models->size(), 2u);
  EXPECT_EQ((*models)[0].name, "first");
  EXPECT_EQ((*models)[0].path, "/abs/a");
  EXPECT_EQ((*models)[1].name, "b");
  EXPECT_EQ((*models)[1].path, dir_ / "weights/b");
  EXPECT_EQ((*models)[1].file, (dir_ / "b.yaml").string());
}

TEST_F(ModelYamlDirTest, TwoModelsWithOneNameAreAnError) {
  Write("a.yaml", "path: x\n");
  Write("b.yaml", "name: a\npath: y\n");
  absl::StatusOr<std::vector<ModelYaml>> models = LoadModelYamlDir(dir_);
  ASSERT_FALSE(models.ok());
  EXPECT_EQ(models.status().message(),
            (dir_ / "b.yaml").string() + ":1:7: model name 'a' is already used by " +
                (dir_ / "a.yaml").string() + "; model names must be unique");
}

TEST_F(ModelYamlDirTest, ErrorsOfOneFileNameIt) {
  Write("a.yaml", "path: x\nblock_sise: 3\n");
  absl::StatusOr<std::vector<ModelYaml>> models = LoadModelYamlDir(dir_);
  EXPECT_EQ(
      models.status().message(),
      (dir_ / "a.yaml").string() + ":2:1: unknown key 'block_sise'; did you mean 'block_size'?");
}

TEST_F(ModelYamlDirTest, AnEmptyOrMissingDirectoryIsNotFound) {
  EXPECT_EQ(LoadModelYamlDir(dir_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(LoadModelYamlDir(dir_ / "absent").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace loom
