// A model's weights on a backend, laid out for the forward pass.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/checkpoint.h"
#include "engine/model/model_config.h"
#include "kernels/backend.h"

namespace loom {

// Views into one backend allocation. A bias is a null view (data == nullptr) when the
// config has none. q/k/v and gate/up are concatenated along the output dimension so
// each is one matrix product.
struct LayerWeights {
  Tensor input_norm;           // [hidden]
  Tensor qkv;                  // [(heads + 2 * kv_heads) * head_dim, hidden]
  Tensor qkv_bias;             // [(heads + 2 * kv_heads) * head_dim]
  Tensor o_proj;               // [hidden, heads * head_dim]
  Tensor o_bias;               // [hidden]
  Tensor post_attention_norm;  // [hidden]
  Tensor gate_up;              // [2 * intermediate, hidden]
  Tensor gate_up_bias;         // [2 * intermediate]
  Tensor down;                 // [hidden, intermediate]
  Tensor down_bias;            // [hidden]
};

struct ModelWeights {
  Tensor embed_tokens;  // [vocab, hidden]
  std::vector<LayerWeights> layers;
  Tensor final_norm;     // [hidden]
  Tensor lm_head;        // [vocab, hidden]; the embedding table itself when tied
  DeviceBuffer storage;  // owns every view above
};

// Reads every weight the config calls for from `checkpoint`, checks its shape, converts
// it to the backend's activation dtype and uploads it into one allocation.
// Errors: NotFound or InvalidArgument from the checkpoint naming the file and tensor;
// ResourceExhausted when the backend cannot hold the weights.
absl::StatusOr<ModelWeights> LoadModelWeights(const Checkpoint& checkpoint,
                                              const ModelConfig& config, Backend& backend);

}  // namespace loom
