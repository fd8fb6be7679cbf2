// Model architectures as data: where each weight lives in a Hugging Face checkpoint.
//
// Llama, Mistral and Qwen2 run the same forward pass. They differ only in config flags
// (biases, tied embeddings, head_dim) and, for other families, in tensor names, so a new
// family is a new table entry here rather than a new forward pass (DESIGN.md).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace loom {

// Tensor names of one architecture. Per-layer names are relative to
// `layer_prefix` + layer index + "."; a weight `w` has "w.weight" and, when the config
// enables the bias, "w.bias".
struct WeightNames {
  std::string embed_tokens;  // full name
  std::string final_norm;    // full name
  std::string lm_head;       // full name; absent when embeddings are tied
  std::string layer_prefix;  // e.g. "model.layers."
  std::string input_norm;
  std::string post_attention_norm;
  std::string q_proj;
  std::string k_proj;
  std::string v_proj;
  std::string o_proj;
  std::string gate_proj;
  std::string up_proj;
  std::string down_proj;

  // "<layer_prefix><layer>.<name>"
  std::string Layer(int layer, std::string_view name) const;
};

// NotFound-free by construction for the architectures ModelConfig accepts;
// InvalidArgument names the architecture otherwise.
absl::StatusOr<WeightNames> WeightNamesFor(std::string_view architecture);

}  // namespace loom
