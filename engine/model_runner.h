// Runs forward steps of one model on one backend: the executor of DESIGN.md.
//
// It owns the weights, the paged KV pool and the activation workspace, all allocated
// once in Create; a step allocates nothing on the device. It reads the ForwardBatch and
// mutates only the KV slots the batch names.
//
// Decode steps (one new token per sequence, every sequence sampled) of up to
// max_num_seqs sequences run as graphs where the backend has them: the batch is padded
// to the next bucket size (DecodeBucket) with dummy sequences that write and read one
// scratch block past the pool, and each bucket's graph is recorded on first use and
// replayed from then on.
//
// Thread-safety: worker-thread only.
#pragma once

#include <array>
#include <deque>
#include <map>
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
  int max_seq_len = 0;        // longest sequence (prompt + output); 0: the pool's tokens
  bool use_graphs = true;     // replay decode steps as graphs where the backend can
};

// How one row of a step is sampled on the device (Backend::SampleTokens).
struct RowSampling {
  float temperature = 0.0f;
  int top_k = 0;
  float top_p = 1.0f;
  float uniform = 0.0f;
  bool needs_logits = false;  // also copy this row's logits to the host
};

// The result of ForwardSample, valid until the next step.
struct SampledRows {
  std::span<const int32_t> ids;     // [rows]
  std::span<const float> logprobs;  // [rows], under the raw logits
  std::span<const float> logits;    // [rows needing logits, vocab], in row order
};

// The batch size a decode step of `num_seqs` sequences is padded to: 1, 2, 4, then
// multiples of 8 (the sizes vLLM captures).
int DecodeBucket(int num_seqs);

class ModelRunner {
 public:
  // `backend` must outlive the runner. InvalidArgument for non-positive options;
  // Unimplemented for a model shape the backend's kernels do not take
  // (Backend::SupportsShape); ResourceExhausted when the KV pool or workspace does not fit.
  static absl::StatusOr<std::unique_ptr<ModelRunner>> Create(const ModelConfig& config,
                                                             ModelWeights weights, Backend* backend,
                                                             const ModelRunnerOptions& options);

  // Device bytes of everything Create allocates beside the weights and the KV pool.
  static int64_t WorkspaceBytes(const ModelConfig& config, const ModelRunnerOptions& options,
                                DType dtype);
  // Device bytes of one KV block over all layers, keys and values.
  static int64_t BytesPerBlock(const ModelConfig& config, int block_size, DType dtype);

  // Runs one step: embeds batch.token_ids, writes their keys and values into the slots
  // the batch names, and returns fp32 logits for batch.logit_rows, row-major
  // [logit_rows.size(), vocab_size]. The span stays valid until the next step.
  // InvalidArgument when the batch exceeds max_num_tokens or max_num_seqs, names a block
  // outside the pool, or holds a token id outside the vocabulary.
  absl::StatusOr<std::span<const float>> Forward(const ForwardBatch& batch);

  // Runs one step like Forward and samples each logit row on the device with `rows`
  // (one per logit row). Errors as Forward's, and InvalidArgument when rows.size()
  // differs from batch.logit_rows.size(). FailedPrecondition while a step is pending.
  absl::StatusOr<SampledRows> ForwardSample(const ForwardBatch& batch,
                                            std::span<const RowSampling> rows);

  // ForwardSample in two halves, for async scheduling: IssueSample queues the step on the
  // backend and returns without waiting for it; CollectSamples waits for the oldest
  // pending step and returns its result. Up to kMaxPendingSteps steps may be pending, so
  // that the next step is queued before this one's tokens are read back.
  //
  // `fed_rows`, when not empty, gives for each of the batch's first fed_rows.size()
  // tokens the row of the last issued step whose sampled id it takes, in place of its
  // batch.token_ids entry (which the caller does not know yet; any id in the vocabulary
  // may stand there). Errors as ForwardSample's, and FailedPrecondition when
  // kMaxPendingSteps steps are pending, when a pending step copies logits to the host
  // (this step would overwrite them), or when fed_rows names a row the last issued step
  // did not sample or comes with no step issued before.
  static constexpr int kMaxPendingSteps = 2;
  absl::Status IssueSample(const ForwardBatch& batch, std::span<const RowSampling> rows,
                           std::span<const int32_t> fed_rows = {});
  // Valid until the next CollectSamples, ForwardSample or Forward. FailedPrecondition
  // when no step is pending.
  absl::StatusOr<SampledRows> CollectSamples();
  int num_pending_steps() const { return static_cast<int>(pending_.size()); }

  const ModelConfig& config() const { return config_; }
  const ModelRunnerOptions& options() const { return options_; }
  Backend& backend() const { return *backend_; }
  // Decode graphs recorded so far, by bucket size.
  int num_graphs() const { return static_cast<int>(graphs_.size()); }

 private:
  ModelRunner(const ModelConfig& config, ModelWeights weights, Backend* backend,
              const ModelRunnerOptions& options);
  absl::Status AllocateBuffers();
  absl::Status Validate(const ForwardBatch& batch) const;
  // The decode bucket `batch` runs in as a graph, or 0 when it runs eagerly.
  int GraphBucket(const ForwardBatch& batch) const;
  // Copies the batch's index arrays (padded to `bucket` dummy sequences when non-zero)
  // into the device in one transfer from the host staging buffer `host`, and points the
  // views below at them.
  void Upload(const ForwardBatch& batch, int bucket, int32_t* host);
  // Issues the layers for the uploaded batch: logits_ gets `num_rows` rows.
  void RunLayers(int num_tokens, int num_rows);
  // Runs the uploaded batch, through its bucket's graph when `bucket` > 0.
  absl::Status Run(int num_tokens, int num_rows, int bucket);
  // Uploads and runs a batch Validate accepted from the host staging buffer `host`, its
  // first fed_rows.size() token ids taken from the last step's sampled ids; logits_ then
  // holds its logit rows.
  absl::Status RunValidated(const ForwardBatch& batch, int32_t* host,
                            std::span<const int32_t> fed_rows = {});
  // The host staging buffer the next step writes: the one the step before last used,
  // whose transfer has run (its result was collected), when steps are issued ahead.
  int32_t* NextHostStep();
  // Appends logits_ rows [first_row, first_row + num_rows) to host_logits_ as fp32.
  void AppendLogits(int64_t first_row, int64_t num_rows);

  ModelConfig config_;
  ModelWeights weights_;
  Backend* backend_;
  ModelRunnerOptions options_;
  int max_kv_indices_ = 0;
  int max_seq_len_ = 0;

  DeviceBuffer
      kv_pool_;  // per layer: K then V, each [num_blocks + 1, block_size, kv_heads, head_dim]
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
  // Every per-step index array, packed: token ids, positions, slots, q_indptr, kv_indptr,
  // kv_last_block_len, logit rows, the sampling parameters, kv_indices (the only one
  // whose length is not bounded by tokens or sequences), then the sampled ids and log
  // probabilities, which a step's upload leaves alone.
  DeviceBuffer step_arrays_;
  // Host staging for step_arrays_ and for the sampled ids and log probabilities read
  // back, in AllocateHost memory: two of each, used in turn, so that one step's are
  // written while the step before it is still queued.
  std::array<DeviceBuffer, kMaxPendingSteps> host_steps_;
  std::array<DeviceBuffer, kMaxPendingSteps> host_samples_;
  int64_t num_issued_ = 0;  // steps uploaded so far (Forward's and IssueSample's)
  Tensor ids_, positions_, slots_, logit_rows_;
  AttentionBatch attention_;

  struct PendingStep {
    int64_t rows = 0;
    std::vector<int64_t> logits_rows;       // rows sampled on the host: their logits come back
    int64_t copy = 0;                       // the ticket of the copy of ids and log probabilities
    const int32_t* host_samples = nullptr;  // where that copy lands: [seqs] ids, [seqs] logprobs
  };
  std::deque<PendingStep> pending_;
  int64_t last_sampled_rows_ = 0;  // rows the last issued step sampled, for fed_rows

  std::map<int, std::unique_ptr<BackendGraph>> graphs_;  // by bucket
  bool graphs_supported_ = true;
  std::vector<float> host_logits_;
  std::vector<int32_t> host_ids_;
  std::vector<float> host_logprobs_;
  std::vector<char> raw_logits_;
};

}  // namespace loom
