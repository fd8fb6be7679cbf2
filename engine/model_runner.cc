#include "engine/model_runner.h"

#include <cmath>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/rope.h"

namespace loom {

absl::StatusOr<std::unique_ptr<ModelRunner>> ModelRunner::Create(
    const ModelConfig& config, ModelWeights weights, Backend* backend,
    const ModelRunnerOptions& options) {
  if (options.block_size <= 0 || options.num_blocks <= 0 || options.max_num_tokens <= 0 ||
      options.max_num_seqs <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model runner: block_size (", options.block_size, "), num_blocks (",
                     options.num_blocks, "), max_num_tokens (", options.max_num_tokens,
                     ") and max_num_seqs (", options.max_num_seqs, ") must be positive"));
  }
  std::unique_ptr<ModelRunner> runner(
      new ModelRunner(config, std::move(weights), backend, options));
  if (auto status = runner->AllocateBuffers(); !status.ok()) return status;
  return runner;
}

ModelRunner::ModelRunner(const ModelConfig& config, ModelWeights weights, Backend* backend,
                         const ModelRunnerOptions& options)
    : config_(config), weights_(std::move(weights)), backend_(backend), options_(options) {}

absl::Status ModelRunner::AllocateBuffers() {
  const DType dtype = backend_->activation_dtype();
  const size_t element = DTypeSize(dtype);
  const int64_t tokens = options_.max_num_tokens;
  const int64_t seqs = options_.max_num_seqs;
  const int64_t hidden = config_.hidden_size;
  const int64_t head_dim = config_.head_dim;
  const int64_t kv_heads = config_.num_key_value_heads;
  const int64_t qkv_heads = config_.num_attention_heads + 2 * kv_heads;
  const int64_t inter = config_.intermediate_size;
  // Each sequence names at most every block of the pool once.
  max_kv_indices_ = static_cast<int>(seqs * options_.num_blocks);

  auto allocate = [&](DeviceBuffer& buffer, int64_t bytes) -> absl::Status {
    auto b = backend_->Allocate(static_cast<size_t>(bytes));
    if (!b.ok()) return b.status();
    buffer = *std::move(b);
    return absl::OkStatus();
  };

  const int64_t layer_bytes = static_cast<int64_t>(options_.num_blocks) * options_.block_size *
                              kv_heads * head_dim * static_cast<int64_t>(element);
  if (auto s = allocate(kv_pool_, 2 * layer_bytes * config_.num_hidden_layers); !s.ok()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("KV pool of ", options_.num_blocks, " blocks: ", s.message()));
  }
  for (int l = 0; l < config_.num_hidden_layers; ++l) {
    char* base = static_cast<char*>(kv_pool_.data()) + 2 * l * layer_bytes;
    kv_layers_.push_back(KvCacheView{
        .k = Tensor(base, dtype, {options_.num_blocks, options_.block_size, kv_heads, head_dim}),
        .v = Tensor(base + layer_bytes, dtype,
                    {options_.num_blocks, options_.block_size, kv_heads, head_dim}),
    });
  }

  const int64_t i32 = sizeof(int32_t);
  for (auto [buffer, bytes] : std::initializer_list<std::pair<DeviceBuffer*, int64_t>>{
           {&hidden_, tokens * hidden * element},
           {&residual_, tokens * hidden * element},
           {&qkv_, tokens * qkv_heads * head_dim * element},
           {&attn_out_, tokens * config_.num_attention_heads * head_dim * element},
           {&gate_up_, tokens * 2 * inter * element},
           {&mlp_act_, tokens * inter * element},
           {&last_rows_, seqs * hidden * element},
           {&logits_, seqs * config_.vocab_size * element},
           {&token_ids_, tokens * i32},
           {&positions_, tokens * i32},
           {&slots_, tokens * i32},
           {&q_indptr_, (seqs + 1) * i32},
           {&kv_indptr_, (seqs + 1) * i32},
           {&kv_indices_, max_kv_indices_ * i32},
           {&kv_last_block_len_, seqs * i32},
           {&logit_rows_, seqs * i32},
           {&rope_inv_freq_, head_dim / 2 * static_cast<int64_t>(sizeof(float))},
       }) {
    if (auto s = allocate(*buffer, bytes); !s.ok()) return s;
  }

  const std::vector<float> inv_freq = ComputeRopeInvFreq(config_);
  backend_->CopyToDevice(rope_inv_freq_.data(), inv_freq.data(), inv_freq.size() * sizeof(float));
  rope_ = RopeParams{.inv_freq = rope_inv_freq_.View(DType::kF32, {head_dim / 2}),
                     .rotary_dim = static_cast<int>(head_dim)};
  return absl::OkStatus();
}

absl::Status ModelRunner::Validate(const ForwardBatch& batch) const {
  if (batch.num_tokens() == 0 || batch.num_tokens() > options_.max_num_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("forward batch of ", batch.num_tokens(),
                                                   " tokens; the limit is ",
                                                   options_.max_num_tokens));
  }
  if (batch.num_seqs() > options_.max_num_seqs ||
      static_cast<int>(batch.logit_rows.size()) > options_.max_num_seqs) {
    return absl::InvalidArgumentError(absl::StrCat(
        "forward batch of ", batch.num_seqs(), " sequences; the limit is ", options_.max_num_seqs));
  }
  if (static_cast<int>(batch.kv_indices.size()) > max_kv_indices_) {
    return absl::InvalidArgumentError("forward batch names more blocks than the pool has");
  }
  for (int32_t block : batch.kv_indices) {
    if (block < 0 || block >= options_.num_blocks) {
      return absl::InvalidArgumentError(
          absl::StrCat("block ", block, " is outside the pool of ", options_.num_blocks));
    }
  }
  for (int32_t id : batch.token_ids) {
    if (id < 0 || id >= config_.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", id, " is outside the vocabulary [0, ", config_.vocab_size, ")"));
    }
  }
  return absl::OkStatus();
}

Tensor ModelRunner::Upload(const std::vector<int32_t>& values, const DeviceBuffer& dst) {
  backend_->CopyToDevice(dst.data(), values.data(), values.size() * sizeof(int32_t));
  return Tensor(dst.data(), DType::kI32, {static_cast<int64_t>(values.size())});
}

absl::StatusOr<std::span<const float>> ModelRunner::Forward(const ForwardBatch& batch) {
  if (auto status = Validate(batch); !status.ok()) return status;
  Backend& be = *backend_;
  const DType dtype = be.activation_dtype();
  const int64_t num_tokens = batch.num_tokens();
  const int64_t hidden = config_.hidden_size;
  const int64_t head_dim = config_.head_dim;
  const int num_heads = config_.num_attention_heads;
  const int64_t qkv_heads = num_heads + 2 * config_.num_key_value_heads;
  const int64_t inter = config_.intermediate_size;
  const float eps = static_cast<float>(config_.rms_norm_eps);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));

  const Tensor ids = Upload(batch.token_ids, token_ids_);
  const Tensor positions = Upload(batch.positions, positions_);
  const Tensor slots = Upload(batch.slots, slots_);
  AttentionBatch attention{
      .num_seqs = batch.num_seqs(),
      .q_indptr = Upload(batch.q_indptr, q_indptr_),
      .kv_indptr = Upload(batch.kv_indptr, kv_indptr_),
      .kv_indices = Upload(batch.kv_indices, kv_indices_),
      .kv_last_block_len = Upload(batch.kv_last_block_len, kv_last_block_len_),
      .host_q_indptr = batch.q_indptr.data(),
      .host_kv_indptr = batch.kv_indptr.data(),
      .host_kv_indices = batch.kv_indices.data(),
      .host_kv_last_block_len = batch.kv_last_block_len.data(),
  };

  Tensor x = hidden_.View(dtype, {num_tokens, hidden});
  Tensor residual = residual_.View(dtype, {num_tokens, hidden});
  Tensor qkv = qkv_.View(dtype, {num_tokens, qkv_heads, head_dim});
  Tensor attn = attn_out_.View(dtype, {num_tokens, num_heads, head_dim});
  Tensor gate_up = gate_up_.View(dtype, {num_tokens, 2 * inter});
  Tensor act = mlp_act_.View(dtype, {num_tokens, inter});

  // The residual stream starts as the embeddings; each layer adds its attention and MLP
  // outputs to it (fused into the next norm).
  be.Embedding(weights_.embed_tokens, ids, residual);
  be.RmsNorm(residual, weights_.layers[0].input_norm, eps, x);
  for (int l = 0; l < config_.num_hidden_layers; ++l) {
    const LayerWeights& w = weights_.layers[l];
    if (l > 0) be.AddRmsNorm(x, residual, w.input_norm, eps);
    be.Linear(x, w.qkv, w.qkv_bias, qkv.Reshape({num_tokens, qkv_heads * head_dim}));
    be.Rope(qkv, num_heads, positions, rope_);
    be.WriteKvCache(qkv, num_heads, slots, kv_layers_[l]);
    be.PagedAttention(qkv, num_heads, kv_layers_[l], attention, scale, attn);
    be.Linear(attn.Reshape({num_tokens, num_heads * head_dim}), w.o_proj, w.o_bias, x);
    be.AddRmsNorm(x, residual, w.post_attention_norm, eps);
    be.Linear(x, w.gate_up, w.gate_up_bias, gate_up);
    be.SiluAndMul(gate_up, act);
    be.Linear(act, w.down, w.down_bias, x);
  }

  // Only the rows that need logits go through the final norm and the LM head.
  const int64_t num_rows = static_cast<int64_t>(batch.logit_rows.size());
  host_logits_.resize(static_cast<size_t>(num_rows * config_.vocab_size));
  if (num_rows == 0) return std::span<const float>(host_logits_);
  be.AddRmsNorm(x, residual, weights_.final_norm, eps);
  Tensor rows = last_rows_.View(dtype, {num_rows, hidden});
  // Embedding is a row gather: rows[r] = x[logit_rows[r]].
  be.Embedding(x, Upload(batch.logit_rows, logit_rows_), rows);
  Tensor logits = logits_.View(dtype, {num_rows, config_.vocab_size});
  be.Linear(rows, weights_.lm_head, Tensor(), logits);
  if (dtype == DType::kF32) {
    be.CopyToHost(host_logits_.data(), logits.data, logits.nbytes());
  } else {
    std::vector<char> raw(logits.nbytes());
    be.CopyToHost(raw.data(), logits.data, raw.size());
    WidenToFloat(dtype, raw.data(), host_logits_.size(), host_logits_.data());
  }
  return std::span<const float>(host_logits_);
}

}  // namespace loom
