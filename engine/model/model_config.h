// A Hugging Face model's config.json (and generation_config.json), parsed and validated.
//
// Llama, Mistral and Qwen2 share one decoder (DESIGN.md: "architectures are described as
// data"), so the config is one struct; what differs between the families is folded into
// plain fields here (biases, sliding window) rather than branched on later.
//
// Both the transformers 4 layout (top-level "rope_theta" and "rope_scaling", "torch_dtype")
// and the transformers 5 layout ("rope_parameters" holding rope_theta and the scaling,
// "dtype") are read.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/dtype.h"

namespace loom {

enum class RopeType { kDefault, kLinear, kDynamic, kLlama3 };

// "default", "linear", "dynamic", "llama3": the names config.json uses.
std::string_view RopeTypeName(RopeType type);

struct RopeScaling {
  RopeType type = RopeType::kDefault;
  double factor = 1.0;            // linear, dynamic, llama3; 1 for kDefault
  double low_freq_factor = 1.0;   // llama3 only
  double high_freq_factor = 4.0;  // llama3 only; > low_freq_factor
  // The context length the model was trained with before scaling. llama3: from the config
  // (required there). dynamic: from the config if given, else max_position_embeddings
  // (what transformers does). 0 for kDefault and kLinear.
  int original_max_position_embeddings = 0;
};

struct ModelConfig {
  std::string architecture;  // "LlamaForCausalLM" | "MistralForCausalLM" | "Qwen2ForCausalLM"
  std::string model_type;    // "llama" | "mistral" | "qwen2", derived from the architecture

  int vocab_size = 0;
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  // Equals num_attention_heads when the config omits it (MHA); 1 is MQA. Always divides
  // num_attention_heads.
  int num_key_value_heads = 0;
  // hidden_size / num_attention_heads unless the config gives it (Mistral Nemo, Qwen3 do).
  // Always even (RoPE rotates pairs).
  int head_dim = 0;
  int max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;

  // Which linear layers carry a bias:
  //   qkv_bias  q_proj, k_proj, v_proj. Llama/Mistral: config "attention_bias" (default
  //             false). Qwen2: always true.
  //   o_bias    o_proj. Llama/Mistral: config "attention_bias". Qwen2: always false.
  //   mlp_bias  gate_proj, up_proj, down_proj. Llama: config "mlp_bias" (default false).
  //             Mistral/Qwen2: always false.
  bool qkv_bias = false;
  bool o_bias = false;
  bool mlp_bias = false;

  // lm_head shares model.embed_tokens.weight, and the checkpoint has no lm_head.weight.
  bool tie_word_embeddings = false;
  // Tokens of attention window. Mistral: config "sliding_window" (null -> nullopt). Llama
  // and Qwen2 (with use_sliding_window false): nullopt.
  std::optional<int> sliding_window;
  // "dtype" (transformers 5) or "torch_dtype": the dtype the weights were saved in.
  // transformers loads float32 when neither is given, and so does this.
  DType dtype = DType::kF32;

  // generation_config.json's bos_token_id when it has one, else config.json's.
  std::optional<int32_t> bos_token_id;
  // Any of these ends generation. generation_config.json's eos_token_id (int or list)
  // first, then config.json's ids that it does not repeat. Empty when neither gives one.
  std::vector<int32_t> eos_token_ids;

  // Sampling defaults the model's authors chose (generation_config.json); nullopt when not
  // given. When do_sample is false, transformers decodes greedily and ignores temperature,
  // top_p and top_k.
  struct GenerationDefaults {
    std::optional<bool> do_sample;
    std::optional<float> temperature;         // >= 0
    std::optional<float> top_p;               // (0, 1]
    std::optional<int> top_k;                 // >= 0; 0 disables
    std::optional<int> max_new_tokens;        // > 0
    std::optional<float> repetition_penalty;  // > 0
  } generation;
};

// Parses the text of a config.json. `source_name` (usually the file's path) starts every
// error message.
// Errors:
//   InvalidArgument  not a JSON object; unsupported architecture; a required key missing
//                    (vocab_size, hidden_size, intermediate_size, num_hidden_layers,
//                    num_attention_heads, max_position_embeddings, and architectures unless
//                    model_type names a supported family); a key of the wrong JSON type; a
//                    size that is not positive; heads not divisible by kv heads; head_dim
//                    missing and hidden_size not divisible by heads, or head_dim odd; bad
//                    rope_scaling values; an unknown dtype. The key is named.
//   Unimplemented    a rope type other than default/linear/dynamic/llama3 (yarn, longrope,
//                    ...), hidden_act other than silu, or Qwen2's use_sliding_window.
absl::StatusOr<ModelConfig> ParseModelConfig(std::string_view config_json,
                                             std::string_view source_name);

// Applies the text of a generation_config.json to `config` (token ids and the sampling
// defaults above). On error, `config` is left unchanged.
// Errors: InvalidArgument for invalid JSON, a key of the wrong type or a value out of range,
// naming `source_name` and the key.
absl::Status ApplyGenerationConfig(std::string_view generation_config_json,
                                   std::string_view source_name, ModelConfig* config);

// Reads dir/config.json and, when present, dir/generation_config.json.
// Errors: NotFound if dir/config.json does not exist; otherwise as the two functions above.
absl::StatusOr<ModelConfig> LoadModelConfig(const std::filesystem::path& dir);

}  // namespace loom
