#include "engine/model/model_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "nlohmann/json.hpp"
#include "tests/engine/model/safetensors_writer.h"
#include "tests/engine/model/scoped_temp_dir.h"
#include "tests/engine/model/test_status.h"

namespace loom {
namespace {

using ::loom::testing::MessageOf;
using ::loom::testing::ScopedTempDir;
using ::loom::testing::WriteFile;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

constexpr char kSource[] = "/models/test/config.json";

// Llama-3-8B's config.json, trimmed of keys loom does not read.
Json Llama3Config() {
  return Json::parse(R"({
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": 128256,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "hidden_act": "silu",
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-05,
    "rope_theta": 500000.0,
    "rope_scaling": null,
    "attention_bias": false,
    "mlp_bias": false,
    "tie_word_embeddings": false,
    "bos_token_id": 128000,
    "eos_token_id": 128001,
    "torch_dtype": "bfloat16"
  })");
}

absl::StatusOr<ModelConfig> Parse(const Json& json) {
  return ParseModelConfig(json.dump(), kSource);
}

// Parses `json` and expects `code` with a message that starts with the source name and
// contains `needle`.
void ExpectError(const Json& json, absl::StatusCode code, const std::string& needle) {
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_FALSE(config.ok()) << json.dump();
  EXPECT_EQ(config.status().code(), code) << config.status();
  EXPECT_THAT(MessageOf(config.status()),
              AllOf(::testing::StartsWith(std::string(kSource) + ": "), HasSubstr(needle)));
}

TEST(ModelConfigTest, LoadsBundledTinyShakespeare) {
  absl::StatusOr<ModelConfig> config =
      LoadModelConfig(LOOM_SOURCE_DIR "/models/tiny-shakespeare-llama");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->architecture, "LlamaForCausalLM");
  EXPECT_EQ(config->model_type, "llama");
  EXPECT_EQ(config->vocab_size, 2048);
  EXPECT_EQ(config->hidden_size, 256);
  EXPECT_EQ(config->intermediate_size, 688);
  EXPECT_EQ(config->num_hidden_layers, 4);
  EXPECT_EQ(config->num_attention_heads, 8);
  EXPECT_EQ(config->num_key_value_heads, 2);
  EXPECT_EQ(config->head_dim, 32);
  EXPECT_EQ(config->max_position_embeddings, 2048);
  EXPECT_DOUBLE_EQ(config->rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(config->rope_theta, 10000.0);
  EXPECT_EQ(config->rope_scaling.type, RopeType::kDefault);
  EXPECT_FALSE(config->qkv_bias);
  EXPECT_FALSE(config->o_bias);
  EXPECT_FALSE(config->mlp_bias);
  EXPECT_TRUE(config->tie_word_embeddings);
  EXPECT_EQ(config->sliding_window, std::nullopt);
  EXPECT_EQ(config->dtype, DType::kBF16);
  EXPECT_EQ(config->bos_token_id, 2043);
  EXPECT_THAT(config->eos_token_ids, ElementsAre(2044, 2047));
  EXPECT_EQ(config->generation.do_sample, true);
  EXPECT_EQ(config->generation.temperature, 0.8f);
  EXPECT_EQ(config->generation.top_p, 0.95f);
  EXPECT_EQ(config->generation.top_k, std::nullopt);
  EXPECT_EQ(config->generation.max_new_tokens, 128);
  EXPECT_EQ(config->generation.repetition_penalty, std::nullopt);
}

TEST(ModelConfigTest, ParsesLlama3WithDefaults) {
  Json json = Llama3Config();
  json.erase("hidden_act");
  json.erase("rope_scaling");
  json.erase("mlp_bias");
  json.erase("tie_word_embeddings");
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->head_dim, 128);
  EXPECT_EQ(config->num_key_value_heads, 8);
  EXPECT_DOUBLE_EQ(config->rope_theta, 500000.0);
  EXPECT_EQ(config->rope_scaling.type, RopeType::kDefault);
  EXPECT_DOUBLE_EQ(config->rope_scaling.factor, 1.0);
  EXPECT_FALSE(config->tie_word_embeddings);
  EXPECT_EQ(config->bos_token_id, 128000);
  EXPECT_THAT(config->eos_token_ids, ElementsAre(128001));
  EXPECT_FALSE(config->generation.temperature.has_value());
}

TEST(ModelConfigTest, Llama31RopeScaling) {
  Json json = Llama3Config();
  json["rope_scaling"] = {{"factor", 8.0},
                          {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0},
                          {"original_max_position_embeddings", 8192},
                          {"rope_type", "llama3"}};
  json["max_position_embeddings"] = 131072;
  json["eos_token_id"] = {128001, 128008, 128009};
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rope_scaling.type, RopeType::kLlama3);
  EXPECT_DOUBLE_EQ(config->rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(config->rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(config->rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(config->rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(config->max_position_embeddings, 131072);
  EXPECT_THAT(config->eos_token_ids, ElementsAre(128001, 128008, 128009));
  EXPECT_EQ(RopeTypeName(config->rope_scaling.type), "llama3");
}

TEST(ModelConfigTest, Llama3RopeScalingNeedsAllItsKeys) {
  Json json = Llama3Config();
  json["rope_scaling"] = {{"factor", 8.0},
                          {"high_freq_factor", 4.0},
                          {"original_max_position_embeddings", 8192},
                          {"rope_type", "llama3"}};
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "missing required key 'rope_scaling.low_freq_factor'");
  json["rope_scaling"]["low_freq_factor"] = 4.0;
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "key 'rope_scaling.high_freq_factor' must exceed low_freq_factor");
  json["rope_scaling"]["low_freq_factor"] = 1.0;
  json["rope_scaling"]["factor"] = -2;
  ExpectError(json, absl::StatusCode::kInvalidArgument, "key 'rope_scaling.factor' must be > 0");
}

TEST(ModelConfigTest, LinearAndDynamicRopeScaling) {
  Json json = Llama3Config();
  json["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4}};
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rope_scaling.type, RopeType::kLinear);
  EXPECT_DOUBLE_EQ(config->rope_scaling.factor, 4.0);

  json["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rope_scaling.type, RopeType::kDynamic);
  EXPECT_DOUBLE_EQ(config->rope_scaling.factor, 2.0);
  EXPECT_EQ(config->rope_scaling.original_max_position_embeddings, 8192);  // falls back

  json["rope_scaling"]["original_max_position_embeddings"] = 4096;
  config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rope_scaling.original_max_position_embeddings, 4096);

  json["rope_scaling"] = {{"rope_type", "linear"}};
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "missing required key 'rope_scaling.factor'");
}

TEST(ModelConfigTest, LegacyTypeKeyAndRopeTypePrecedence) {
  Json json = Llama3Config();
  json["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rope_scaling.type, RopeType::kLinear);

  json["rope_scaling"] = {{"type", "yarn"}, {"rope_type", "dynamic"}, {"factor", 2.0}};
  config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rope_scaling.type, RopeType::kDynamic);

  json["rope_scaling"] = {{"factor", 2.0}};
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "'rope_scaling' has neither 'rope_type' nor 'type'");
  json["rope_scaling"] = "linear";
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "key 'rope_scaling' must be an object, got string");
}

TEST(ModelConfigTest, UnsupportedRopeTypesAreUnimplemented) {
  Json json = Llama3Config();
  json["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  ExpectError(json, absl::StatusCode::kUnimplemented,
              "rope_scaling.rope_type 'yarn' is not supported (supported: default, linear, "
              "dynamic, llama3)");
  json["rope_scaling"] = {{"type", "longrope"}, {"factor", 4.0}};
  ExpectError(json, absl::StatusCode::kUnimplemented, "rope_scaling.type 'longrope'");
}

TEST(ModelConfigTest, Transformers5RopeParametersAndDTypeKey) {
  Json json = Llama3Config();
  json.erase("rope_theta");
  json.erase("rope_scaling");
  json.erase("torch_dtype");
  json["dtype"] = "float16";
  json["rope_parameters"] = {{"rope_theta", 1000000.0}, {"rope_type", "default"}};
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_DOUBLE_EQ(config->rope_theta, 1000000.0);
  EXPECT_EQ(config->rope_scaling.type, RopeType::kDefault);
  EXPECT_EQ(config->dtype, DType::kF16);

  json["rope_parameters"] = {{"rope_theta", 500000.0},  {"rope_type", "llama3"},
                             {"factor", 32.0},          {"low_freq_factor", 1.0},
                             {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_DOUBLE_EQ(config->rope_theta, 500000.0);
  EXPECT_EQ(config->rope_scaling.type, RopeType::kLlama3);
  EXPECT_DOUBLE_EQ(config->rope_scaling.factor, 32.0);

  json["rope_parameters"] = {{"rope_theta", 1e4}, {"rope_type", "yarn"}};
  ExpectError(json, absl::StatusCode::kUnimplemented, "rope_parameters.rope_type 'yarn'");
}

TEST(ModelConfigTest, MistralSlidingWindow) {
  Json json = Llama3Config();
  json["architectures"] = {"MistralForCausalLM"};
  json["model_type"] = "mistral";
  json["sliding_window"] = 4096;
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->architecture, "MistralForCausalLM");
  EXPECT_EQ(config->model_type, "mistral");
  EXPECT_EQ(config->sliding_window, 4096);
  EXPECT_FALSE(config->qkv_bias);

  json["sliding_window"] = nullptr;
  config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->sliding_window, std::nullopt);

  json.erase("sliding_window");
  config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->sliding_window, std::nullopt);

  json["sliding_window"] = 0;
  ExpectError(json, absl::StatusCode::kInvalidArgument, "key 'sliding_window' must be in [1, ");
}

TEST(ModelConfigTest, MistralNemoExplicitHeadDim) {
  Json json = Llama3Config();
  json["architectures"] = {"MistralForCausalLM"};
  json["hidden_size"] = 5120;
  json["num_attention_heads"] = 32;
  json["head_dim"] = 128;  // 5120 / 32 would be 160
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->head_dim, 128);
  json["head_dim"] = nullptr;
  config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->head_dim, 160);
}

TEST(ModelConfigTest, Qwen2HasQkvBiasOnly) {
  Json json = Json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
    "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
    "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
    "max_position_embeddings": 32768, "max_window_layers": 21, "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0, "sliding_window": 32768, "use_sliding_window": false,
    "tie_word_embeddings": true, "torch_dtype": "bfloat16", "bos_token_id": 151643,
    "eos_token_id": 151645, "hidden_act": "silu"
  })");
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->model_type, "qwen2");
  EXPECT_EQ(config->head_dim, 64);
  EXPECT_TRUE(config->qkv_bias);
  EXPECT_FALSE(config->o_bias);
  EXPECT_FALSE(config->mlp_bias);
  EXPECT_TRUE(config->tie_word_embeddings);
  EXPECT_EQ(config->sliding_window, std::nullopt);  // use_sliding_window is false

  json["use_sliding_window"] = true;
  ExpectError(json, absl::StatusCode::kUnimplemented, "use_sliding_window");
}

TEST(ModelConfigTest, LlamaAttentionAndMlpBias) {
  Json json = Llama3Config();
  json["attention_bias"] = true;
  json["mlp_bias"] = true;
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->qkv_bias);
  EXPECT_TRUE(config->o_bias);
  EXPECT_TRUE(config->mlp_bias);
  json["attention_bias"] = "yes";
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "key 'attention_bias' must be true or false, got string");
}

TEST(ModelConfigTest, MultiQueryAndMissingKvHeads) {
  Json json = Llama3Config();
  json["num_key_value_heads"] = 1;
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->num_key_value_heads, 1);

  json.erase("num_key_value_heads");
  config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->num_key_value_heads, 32);

  json["num_key_value_heads"] = nullptr;
  config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->num_key_value_heads, 32);
}

TEST(ModelConfigTest, UnsupportedArchitecture) {
  Json json = Llama3Config();
  json["architectures"] = {"GPT2LMHeadModel"};
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MessageOf(config.status()),
            "/models/test/config.json: unsupported architecture 'GPT2LMHeadModel' (supported: "
            "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)");

  json["architectures"] = Json::array();
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "key 'architectures' must be a non-empty list of strings");
}

TEST(ModelConfigTest, ArchitectureFromModelTypeWhenArchitecturesAbsent) {
  Json json = Llama3Config();
  json.erase("architectures");
  json["model_type"] = "qwen2";
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->architecture, "Qwen2ForCausalLM");

  json["model_type"] = "gpt2";
  ExpectError(json, absl::StatusCode::kInvalidArgument, "unsupported model_type 'gpt2'");
  json.erase("model_type");
  ExpectError(json, absl::StatusCode::kInvalidArgument, "missing required key 'architectures'");
}

TEST(ModelConfigTest, MissingRequiredKeysAreNamed) {
  for (const char* key : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "max_position_embeddings"}) {
    SCOPED_TRACE(key);
    Json json = Llama3Config();
    json.erase(key);
    ExpectError(json, absl::StatusCode::kInvalidArgument,
                std::string("missing required key '") + key + "'");
    json[key] = nullptr;
    ExpectError(json, absl::StatusCode::kInvalidArgument,
                std::string("missing required key '") + key + "'");
  }
}

TEST(ModelConfigTest, WrongTypesAreNamed) {
  Json json = Llama3Config();
  json["hidden_size"] = "4096";
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "key 'hidden_size' must be an integer, got string \"4096\"");
  json = Llama3Config();
  json["num_hidden_layers"] = 32.5;
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "key 'num_hidden_layers' must be an integer, got number 32.5");
  json = Llama3Config();
  json["rms_norm_eps"] = "1e-5";
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "key 'rms_norm_eps' must be a number, got string");
  json = Llama3Config();
  json["tie_word_embeddings"] = 1;
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "key 'tie_word_embeddings' must be true or false");
  json = Llama3Config();
  json["eos_token_id"] = "</s>";
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "key 'eos_token_id' must be an integer or a list of integers");
  json["eos_token_id"] = {1, "2"};
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "key 'eos_token_id' must be an integer, got string");
  json = Llama3Config();
  json["torch_dtype"] = "int8";
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "key 'torch_dtype' must be bfloat16, float16 or float32, got 'int8'");
}

TEST(ModelConfigTest, OutOfRangeValuesAreNamed) {
  Json json = Llama3Config();
  json["hidden_size"] = 0;
  ExpectError(json, absl::StatusCode::kInvalidArgument, "key 'hidden_size' must be in [1, ");
  json = Llama3Config();
  json["vocab_size"] = -5;
  ExpectError(json, absl::StatusCode::kInvalidArgument, "key 'vocab_size' must be in [1, ");
  json = Llama3Config();
  json["intermediate_size"] = 4294967296;
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "key 'intermediate_size' must be in [1, 2147483647], got 4294967296");
  json = Llama3Config();
  json["rms_norm_eps"] = 0;
  ExpectError(json, absl::StatusCode::kInvalidArgument, "key 'rms_norm_eps' must be > 0");
  json = Llama3Config();
  json["rope_theta"] = -1.0;
  ExpectError(json, absl::StatusCode::kInvalidArgument, "key 'rope_theta' must be > 0");
  json = Llama3Config();
  json["eos_token_id"] = -1;
  ExpectError(json, absl::StatusCode::kInvalidArgument, "key 'eos_token_id' must be in [0, ");
}

TEST(ModelConfigTest, HeadCountsMustDivide) {
  Json json = Llama3Config();
  json["num_key_value_heads"] = 5;
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "key 'num_attention_heads' (32) must be a multiple of key 'num_key_value_heads' "
              "(5)");
  json = Llama3Config();
  json["num_key_value_heads"] = 64;
  ExpectError(json, absl::StatusCode::kInvalidArgument, "must be a multiple of");
  json = Llama3Config();
  json["num_attention_heads"] = 24;  // 4096 / 24 is not whole
  json["num_key_value_heads"] = 8;
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "key 'hidden_size' (4096) is not divisible by key 'num_attention_heads' (24)");
  json["head_dim"] = 171;
  ExpectError(json, absl::StatusCode::kInvalidArgument, "key 'head_dim' must be even");
  json["head_dim"] = 128;
  EXPECT_TRUE(Parse(json).ok());
}

TEST(ModelConfigTest, OnlySiluIsSupported) {
  Json json = Llama3Config();
  json["hidden_act"] = "gelu";
  ExpectError(json, absl::StatusCode::kUnimplemented, "key 'hidden_act' 'gelu' is not supported");
}

TEST(ModelConfigTest, RejectsTextThatIsNotAJsonObject) {
  for (const char* text : {"", "{", "{\"vocab_size\": }", "[1, 2]", "42"}) {
    absl::StatusOr<ModelConfig> config = ParseModelConfig(text, kSource);
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(MessageOf(config.status()), HasSubstr(kSource));
  }
}

TEST(ModelConfigTest, GenerationConfigOverridesTokensAndSetsDefaults) {
  absl::StatusOr<ModelConfig> config = Parse(Llama3Config());
  ASSERT_TRUE(config.ok()) << config.status();
  const absl::Status status = ApplyGenerationConfig(R"({
      "bos_token_id": 1, "eos_token_id": [128009, 128001], "do_sample": false,
      "temperature": 0.6, "top_p": 0.9, "top_k": 40, "max_new_tokens": 512,
      "repetition_penalty": 1.1, "transformers_version": "4.40.0"})",
                                                    "gen.json", &*config);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(config->bos_token_id, 1);
  EXPECT_THAT(config->eos_token_ids, ElementsAre(128009, 128001));
  EXPECT_EQ(config->generation.do_sample, false);
  EXPECT_EQ(config->generation.temperature, 0.6f);
  EXPECT_EQ(config->generation.top_p, 0.9f);
  EXPECT_EQ(config->generation.top_k, 40);
  EXPECT_EQ(config->generation.max_new_tokens, 512);
  EXPECT_EQ(config->generation.repetition_penalty, 1.1f);
}

TEST(ModelConfigTest, GenerationConfigExtendsEosFromConfig) {
  absl::StatusOr<ModelConfig> config = Parse(Llama3Config());  // eos 128001
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(ApplyGenerationConfig(R"({"eos_token_id": 128009})", "gen.json", &*config).ok());
  EXPECT_THAT(config->eos_token_ids, ElementsAre(128009, 128001));
  EXPECT_EQ(config->bos_token_id, 128000);  // kept: the generation config has none
}

TEST(ModelConfigTest, BadGenerationConfigLeavesConfigUnchanged) {
  absl::StatusOr<ModelConfig> config = Parse(Llama3Config());
  ASSERT_TRUE(config.ok()) << config.status();
  const struct {
    const char* text;
    const char* needle;
  } kCases[] = {
      {R"({"top_p": 1.5, "eos_token_id": 7})", "key 'top_p' must be in (0, 1]"},
      {R"({"temperature": "hot", "eos_token_id": 7})", "key 'temperature' must be a number"},
      {R"({"temperature": -0.5})", "key 'temperature' must be >= 0"},
      {R"({"temperature": 1e300})", "key 'temperature' is too large"},
      {R"({"top_k": -1})", "key 'top_k' must be in [0, "},
      {R"({"max_new_tokens": 0})", "key 'max_new_tokens' must be in [1, "},
      {R"({"eos_token_id": 7, "do_sample": "no"})", "key 'do_sample' must be true or false"},
      {R"({"eos_token_id": 7, "top_k": 2.5})", "key 'top_k' must be an integer"},
      {"not json", "not valid JSON"},
  };
  for (const auto& test_case : kCases) {
    const absl::Status status = ApplyGenerationConfig(test_case.text, "gen.json", &*config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << test_case.text;
    EXPECT_THAT(MessageOf(status), AllOf(HasSubstr("gen.json: "), HasSubstr(test_case.needle)))
        << test_case.text;
  }
  EXPECT_THAT(config->eos_token_ids, ElementsAre(128001));
  EXPECT_FALSE(config->generation.temperature.has_value());
}

TEST(ModelConfigTest, LoadModelConfigReportsFiles) {
  ScopedTempDir dir;
  absl::StatusOr<ModelConfig> config = LoadModelConfig(dir.path());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(MessageOf(config.status()), HasSubstr((dir.path() / "config.json").string()));

  WriteFile(dir.path() / "config.json", Llama3Config().dump());
  config = LoadModelConfig(dir.path());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->eos_token_ids, ElementsAre(128001));  // no generation_config.json

  WriteFile(dir.path() / "generation_config.json", R"({"eos_token_id": [1, })");
  config = LoadModelConfig(dir.path());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(config.status()),
              HasSubstr((dir.path() / "generation_config.json").string()));

  WriteFile(dir.path() / "config.json", "{\"architectures\": [\"BertModel\"]}");
  config = LoadModelConfig(dir.path());
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(MessageOf(config.status()), AllOf(HasSubstr((dir.path() / "config.json").string()),
                                                HasSubstr("unsupported architecture 'BertModel'")));
}

// Damaged configs give a Status, never a crash or an exception.
TEST(ModelConfigTest, RandomCorruptionNeverCrashes) {
  const std::string valid = Llama3Config().dump();
  std::mt19937 rng(77);
  int num_rejected = 0;
  for (int trial = 0; trial < 500; ++trial) {
    std::string text = valid;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < edits; ++i) {
      const size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text[at] = "{}[]\",:0-9e.ntf "[rng() % 16];
          break;
        case 1:
          text.erase(at, 1 + rng() % 8);
          break;
        default:
          text.insert(at, 1, static_cast<char>(rng() & 0xff));
          break;
      }
      if (text.empty()) text = "{";
    }
    absl::StatusOr<ModelConfig> config = ParseModelConfig(text, kSource);
    if (!config.ok()) {
      ++num_rejected;
      EXPECT_THAT(MessageOf(config.status()), HasSubstr(kSource));
    }
  }
  EXPECT_GT(num_rejected, 250);
}

}  // namespace
}  // namespace loom
