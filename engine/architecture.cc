#include "engine/architecture.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace loom {

std::string WeightNames::Layer(int layer, std::string_view name) const {
  return absl::StrCat(layer_prefix, layer, ".", std::string(name));
}

absl::StatusOr<WeightNames> WeightNamesFor(std::string_view architecture) {
  if (architecture == "LlamaForCausalLM" || architecture == "MistralForCausalLM" ||
      architecture == "Qwen2ForCausalLM") {
    return WeightNames{
        .embed_tokens = "model.embed_tokens.weight",
        .final_norm = "model.norm.weight",
        .lm_head = "lm_head.weight",
        .layer_prefix = "model.layers.",
        .input_norm = "input_layernorm",
        .post_attention_norm = "post_attention_layernorm",
        .q_proj = "self_attn.q_proj",
        .k_proj = "self_attn.k_proj",
        .v_proj = "self_attn.v_proj",
        .o_proj = "self_attn.o_proj",
        .gate_proj = "mlp.gate_proj",
        .up_proj = "mlp.up_proj",
        .down_proj = "mlp.down_proj",
    };
  }
  return absl::InvalidArgumentError(
      absl::StrCat("no weight map for architecture '", std::string(architecture), "'"));
}

}  // namespace loom
