// Runs forward steps of one model on one backend: the executor of DESIGN.md.
//
// It owns the weights, the paged KV pool and the activation workspace, all allocated
// once in Create; Forward allocates nothing on the device. It reads the ForwardBatch and
// mutates only the KV slots the batch names.
//
// Thread-safety: worker-thread only.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/forward_batch.h"
#include "engine/model/model_config.h"
#include "engine/model_weights.h"
#include "kernels/backend.h"

namespace loom {

struct ModelRunnerOptions {
  int block_size = 64;        // tokens per KV block
  int num_blocks = 0;         // blocks in the KV pool
  int max_num_tokens = 2048;  // new tokens in one forward step, over all sequences
  int max_num_seqs = 64;      // sequences in one forward step
};

class ModelRunner {
 public:
  // `backend` must outlive the runner. InvalidArgument for non-positive options;
  // ResourceExhausted when the KV pool or workspace does not fit.
  static absl::StatusOr<std::unique_ptr<ModelRunner>> Create(const ModelConfig& config,
                                                             ModelWeights weights, Backend* backend,
                                                             const ModelRunnerOptions& options);

  // Runs one step: embeds batch.token_ids, writes their keys and values into the slots
  // the batch names, and returns fp32 logits for batch.logit_rows, row-major
  // [logit_rows.size(), vocab_size]. The span stays valid until the next Forward.
  // InvalidArgument when the batch exceeds max_num_tokens or max_num_seqs, names a block
  // outside the pool, or holds a token id outside the vocabulary.
  absl::StatusOr<std::span<const float>> Forward(const ForwardBatch& batch);

  const ModelConfig& config() const { return config_; }
  const ModelRunnerOptions& options() const { return options_; }
  Backend& backend() const { return *backend_; }

 private:
  ModelRunner(const ModelConfig& config, ModelWeights weights, Backend* backend,
              const ModelRunnerOptions& options);
  absl::Status AllocateBuffers();
  absl::Status Validate(const ForwardBatch& batch) const;
  // Copies `values` into the device index buffer `dst` and returns a view of them.
  Tensor Upload(const std::vector<int32_t>& values, const DeviceBuffer& dst);

  ModelConfig config_;
  ModelWeights weights_;
  Backend* backend_;
  ModelRunnerOptions options_;
  int max_kv_indices_ = 0;

  DeviceBuffer kv_pool_;  // per layer: K then V, each [num_blocks, block_size, kv_heads, head_dim]
  std::vector<KvCacheView> kv_layers_;

  DeviceBuffer rope_inv_freq_;  // [head_dim / 2] F32
  RopeParams rope_;
  DeviceBuffer hidden_;     // [max_num_tokens, hidden]
  DeviceBuffer residual_;   // [max_num_tokens, hidden]
  DeviceBuffer qkv_;        // [max_num_tokens, heads + 2 * kv_heads, head_dim]
  DeviceBuffer attn_out_;   // [max_num_tokens, heads * head_dim]
  DeviceBuffer gate_up_;    // [max_num_tokens, 2 * intermediate]
  DeviceBuffer mlp_act_;    // [max_num_tokens, intermediate]
  DeviceBuffer last_rows_;  // [max_num_seqs, hidden]
  DeviceBuffer logits_;     // [max_num_seqs, vocab]
  DeviceBuffer token_ids_, positions_, slots_, q_indptr_, kv_indptr_, kv_indices_,
      kv_last_block_len_, logit_rows_;  // I32 index arrays
  std::vector<float> host_logits_;
};

}  // namespace loom
