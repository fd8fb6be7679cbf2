#include "engine/model_runner.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/rope.h"

namespace loom {
namespace {

// Where each per-step array starts in the packed step buffer, in 4-byte words. A step
// uploads everything before kv_indices' end; the sampled ids and log probabilities
// come after kv_indices' capacity, so that the next step's upload leaves them for it to
// take its tokens from (ModelRunner::IssueSample's fed_rows).
struct StepLayout {
  int64_t tokens = 0;       // capacity in tokens
  int64_t seqs = 0;         // capacity in sequences
  int64_t kv_capacity = 0;  // capacity of kv_indices
  int64_t ids() const { return 0; }
  int64_t positions() const { return tokens; }
  int64_t slots() const { return 2 * tokens; }
  int64_t q_indptr() const { return 3 * tokens; }
  int64_t kv_indptr() const { return q_indptr() + seqs + 1; }
  int64_t kv_last_block_len() const { return kv_indptr() + seqs + 1; }
  int64_t logit_rows() const { return kv_last_block_len() + seqs; }
  int64_t temperature() const { return logit_rows() + seqs; }
  int64_t top_k() const { return temperature() + seqs; }
  int64_t top_p() const { return top_k() + seqs; }
  int64_t uniform() const { return top_p() + seqs; }
  int64_t kv_indices() const { return uniform() + seqs; }
  int64_t sampled_ids() const { return kv_indices() + kv_capacity; }
  int64_t sampled_logprobs() const { return sampled_ids() + seqs; }
  int64_t size() const { return sampled_logprobs() + seqs; }
};

int SeqCapacity(const ModelRunnerOptions& options) {
  return std::max(options.max_num_seqs, DecodeBucket(options.max_num_seqs));
}

int TokenCapacity(const ModelRunnerOptions& options) {
  return std::max(options.max_num_tokens, SeqCapacity(options));
}

int MaxSeqLen(const ModelRunnerOptions& options) {
  return options.max_seq_len > 0 ? options.max_seq_len : options.num_blocks * options.block_size;
}

int MaxKvIndices(const ModelRunnerOptions& options) {
  const int blocks_per_seq = (MaxSeqLen(options) + options.block_size - 1) / options.block_size;
  return SeqCapacity(options) * std::min(blocks_per_seq, options.num_blocks + 1);
}

StepLayout LayoutFor(const ModelRunnerOptions& options) {
  return StepLayout{.tokens = TokenCapacity(options),
                    .seqs = SeqCapacity(options),
                    .kv_capacity = MaxKvIndices(options)};
}

// Bytes of each activation and index buffer AllocateBuffers makes: the one list both it
// and WorkspaceBytes read.
struct BufferSizes {
  int64_t hidden, residual, qkv, attn_out, gate_up, mlp_act, last_rows, logits, step_arrays,
      rope_inv_freq;
  int64_t total() const {
    return hidden + residual + qkv + attn_out + gate_up + mlp_act + last_rows + logits +
           step_arrays + rope_inv_freq;
  }
};

BufferSizes BufferSizesFor(const ModelConfig& config, const ModelRunnerOptions& options,
                           DType dtype) {
  const int64_t element = static_cast<int64_t>(DTypeSize(dtype));
  const int64_t tokens = TokenCapacity(options);
  const int64_t seqs = SeqCapacity(options);
  const int64_t hidden = config.hidden_size;
  const int64_t head_dim = config.head_dim;
  const int64_t qkv_heads = config.num_attention_heads + 2 * config.num_key_value_heads;
  const int64_t inter = config.intermediate_size;
  return BufferSizes{
      .hidden = tokens * hidden * element,
      .residual = tokens * hidden * element,
      .qkv = tokens * qkv_heads * head_dim * element,
      .attn_out = tokens * config.num_attention_heads * head_dim * element,
      .gate_up = tokens * 2 * inter * element,
      .mlp_act = tokens * inter * element,
      .last_rows = seqs * hidden * element,
      .logits = seqs * config.vocab_size * element,
      .step_arrays = LayoutFor(options).size() * 4,
      .rope_inv_freq = head_dim / 2 * static_cast<int64_t>(sizeof(float)),
  };
}

}  // namespace

int DecodeBucket(int num_seqs) {
  if (num_seqs <= 2) return std::max(num_seqs, 1);
  if (num_seqs <= 4) return 4;
  return (num_seqs + 7) / 8 * 8;
}

int64_t ModelRunner::BytesPerBlock(const ModelConfig& config, int block_size, DType dtype) {
  return 2 * static_cast<int64_t>(config.num_hidden_layers) * block_size *
         config.num_key_value_heads * config.head_dim * static_cast<int64_t>(DTypeSize(dtype));
}

int64_t ModelRunner::WorkspaceBytes(const ModelConfig& config, const ModelRunnerOptions& options,
                                    DType dtype) {
  constexpr int64_t kAlignmentSlack = 16 * 256;  // allocations round up
  return BufferSizesFor(config, options, dtype).total() + kAlignmentSlack;
}

absl::StatusOr<std::unique_ptr<ModelRunner>> ModelRunner::Create(
    const ModelConfig& config, ModelWeights weights, Backend* backend,
    const ModelRunnerOptions& options) {
  if (options.block_size <= 0 || options.num_blocks <= 0 || options.max_num_tokens <= 0 ||
      options.max_num_seqs <= 0 || options.max_seq_len < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model runner: block_size (", options.block_size, "), num_blocks (", options.num_blocks,
        "), max_num_tokens (", options.max_num_tokens, ") and max_num_seqs (", options.max_num_seqs,
        ") must be positive, max_seq_len (", options.max_seq_len, ") not negative"));
  }
  if (auto status = backend->SupportsShape(config.hidden_size, config.head_dim,
                                           config.num_key_value_heads, config.intermediate_size);
      !status.ok()) {
    return status;
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
  const int64_t head_dim = config_.head_dim;
  const int64_t kv_heads = config_.num_key_value_heads;
  max_kv_indices_ = MaxKvIndices(options_);
  max_seq_len_ = MaxSeqLen(options_);

  auto allocate = [&](DeviceBuffer& buffer, int64_t bytes) -> absl::Status {
    auto b = backend_->Allocate(static_cast<size_t>(bytes));
    if (!b.ok()) return b.status();
    buffer = *std::move(b);
    return absl::OkStatus();
  };

  // One block past the pool is the scratch block padded decode sequences use.
  const int64_t pool_blocks = static_cast<int64_t>(options_.num_blocks) + 1;
  const int64_t layer_bytes =
      pool_blocks * options_.block_size * kv_heads * head_dim * static_cast<int64_t>(element);
  if (auto s = allocate(kv_pool_, 2 * layer_bytes * config_.num_hidden_layers); !s.ok()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("KV pool of ", options_.num_blocks, " blocks: ", s.message()));
  }
  for (int l = 0; l < config_.num_hidden_layers; ++l) {
    char* base = static_cast<char*>(kv_pool_.data()) + 2 * l * layer_bytes;
    kv_layers_.push_back(KvCacheView{
        .k = Tensor(base, dtype, {pool_blocks, options_.block_size, kv_heads, head_dim}),
        .v = Tensor(base + layer_bytes, dtype,
                    {pool_blocks, options_.block_size, kv_heads, head_dim}),
    });
  }

  const BufferSizes sizes = BufferSizesFor(config_, options_, dtype);
  for (auto [buffer, bytes] : std::initializer_list<std::pair<DeviceBuffer*, int64_t>>{
           {&hidden_, sizes.hidden},
           {&residual_, sizes.residual},
           {&qkv_, sizes.qkv},
           {&attn_out_, sizes.attn_out},
           {&gate_up_, sizes.gate_up},
           {&mlp_act_, sizes.mlp_act},
           {&last_rows_, sizes.last_rows},
           {&logits_, sizes.logits},
           {&step_arrays_, sizes.step_arrays},
           {&rope_inv_freq_, sizes.rope_inv_freq},
       }) {
    if (auto s = allocate(*buffer, bytes); !s.ok()) return s;
  }

  const std::vector<float> inv_freq = ComputeRopeInvFreq(config_);
  backend_->CopyToDevice(rope_inv_freq_.data(), inv_freq.data(), inv_freq.size() * sizeof(float));
  rope_ = RopeParams{.inv_freq = rope_inv_freq_.View(DType::kF32, {head_dim / 2}),
                     .rotary_dim = static_cast<int>(head_dim)};
  const StepLayout layout = LayoutFor(options_);
  for (int i = 0; i < kMaxPendingSteps; ++i) {
    auto step = backend_->AllocateHost(static_cast<size_t>(sizes.step_arrays));
    if (!step.ok()) return step.status();
    host_steps_[i] = *std::move(step);
    auto samples = backend_->AllocateHost(static_cast<size_t>(2 * layout.seqs * 4));
    if (!samples.ok()) return samples.status();
    host_samples_[i] = *std::move(samples);
  }
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
  // Padding adds one scratch block per dummy sequence.
  const int64_t kv_limit = max_kv_indices_ - (SeqCapacity(options_) - batch.num_seqs());
  if (static_cast<int64_t>(batch.kv_indices.size()) > kv_limit) {
    return absl::InvalidArgumentError(absl::StrCat("forward batch names ", batch.kv_indices.size(),
                                                   " blocks; the limit is ", kv_limit));
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

int ModelRunner::GraphBucket(const ForwardBatch& batch) const {
  if (!options_.use_graphs || !graphs_supported_) return 0;
  const int n = batch.num_seqs();
  if (batch.num_tokens() != n || static_cast<int>(batch.logit_rows.size()) != n) return 0;
  return DecodeBucket(n);
}

int32_t* ModelRunner::NextHostStep() {
  return static_cast<int32_t*>(host_steps_[num_issued_ % kMaxPendingSteps].data());
}

void ModelRunner::Upload(const ForwardBatch& batch, int bucket, int32_t* host) {
  const StepLayout layout = LayoutFor(options_);
  const int num_seqs = batch.num_seqs();
  const int padded_seqs = bucket > 0 ? bucket : num_seqs;
  const int padded_tokens = batch.num_tokens() + (padded_seqs - num_seqs);
  const int num_rows = bucket > 0 ? bucket : static_cast<int>(batch.logit_rows.size());
  const int num_kv_indices = static_cast<int>(batch.kv_indices.size()) + (padded_seqs - num_seqs);
  auto put = [&](int64_t offset, const std::vector<int32_t>& values) {
    if (!values.empty()) {  // an empty vector's data() may be null, which memcpy forbids
      std::memcpy(host + offset, values.data(), values.size() * sizeof(int32_t));
    }
  };
  put(layout.ids(), batch.token_ids);
  put(layout.positions(), batch.positions);
  put(layout.slots(), batch.slots);
  put(layout.q_indptr(), batch.q_indptr);
  put(layout.kv_indptr(), batch.kv_indptr);
  put(layout.kv_last_block_len(), batch.kv_last_block_len);
  put(layout.logit_rows(), batch.logit_rows);
  put(layout.kv_indices(), batch.kv_indices);
  // Dummy sequences: token 0 at position 0 in the scratch block.
  const int scratch = options_.num_blocks;
  for (int s = num_seqs; s < padded_seqs; ++s) {
    const int t = batch.num_tokens() + (s - num_seqs);
    host[layout.ids() + t] = 0;
    host[layout.positions() + t] = 0;
    host[layout.slots() + t] = scratch * options_.block_size;
    host[layout.q_indptr() + s + 1] = t + 1;
    host[layout.kv_indptr() + s + 1] = host[layout.kv_indptr() + s] + 1;
    host[layout.kv_indices() + host[layout.kv_indptr() + s]] = scratch;
    host[layout.kv_last_block_len() + s] = 1;
    host[layout.logit_rows() + s] = t;
  }
  backend_->CopyToDevice(step_arrays_.data(), host,
                         static_cast<size_t>(layout.kv_indices() + num_kv_indices) * 4);

  auto* base = static_cast<int32_t*>(step_arrays_.data());
  auto view = [&](int64_t offset, int64_t count, DType dtype = DType::kI32) {
    return Tensor(base + offset, dtype, {count});
  };
  ids_ = view(layout.ids(), padded_tokens);
  positions_ = view(layout.positions(), padded_tokens);
  slots_ = view(layout.slots(), padded_tokens);
  logit_rows_ = view(layout.logit_rows(), num_rows);
  int max_q_len = 0;
  int max_kv_len = 0;
  for (int s = 0; s < num_seqs; ++s) {
    max_q_len = std::max(max_q_len, batch.q_indptr[s + 1] - batch.q_indptr[s]);
    const int blocks = batch.kv_indptr[s + 1] - batch.kv_indptr[s];
    max_kv_len =
        std::max(max_kv_len, (blocks - 1) * options_.block_size + batch.kv_last_block_len[s]);
  }
  attention_ = AttentionBatch{
      .num_seqs = padded_seqs,
      .q_indptr = view(layout.q_indptr(), padded_seqs + 1),
      .kv_indptr = view(layout.kv_indptr(), padded_seqs + 1),
      .kv_indices = view(layout.kv_indices(), num_kv_indices),
      .kv_last_block_len = view(layout.kv_last_block_len(), padded_seqs),
      .host_q_indptr = host + layout.q_indptr(),
      .host_kv_indptr = host + layout.kv_indptr(),
      .host_kv_indices = host + layout.kv_indices(),
      .host_kv_last_block_len = host + layout.kv_last_block_len(),
      // A graph is replayed with any lengths up to the longest sequence.
      .max_q_len = max_q_len,
      .max_kv_len = bucket > 0 ? std::max(max_seq_len_, max_kv_len) : max_kv_len,
  };
}

void ModelRunner::RunLayers(int num_tokens_in, int num_rows_in) {
  Backend& be = *backend_;
  const DType dtype = be.activation_dtype();
  const int64_t num_tokens = num_tokens_in;
  const int64_t num_rows = num_rows_in;
  const int64_t hidden = config_.hidden_size;
  const int64_t head_dim = config_.head_dim;
  const int num_heads = config_.num_attention_heads;
  const int64_t qkv_heads = num_heads + 2 * config_.num_key_value_heads;
  const int64_t inter = config_.intermediate_size;
  const float eps = static_cast<float>(config_.rms_norm_eps);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));

  Tensor x = hidden_.View(dtype, {num_tokens, hidden});
  Tensor residual = residual_.View(dtype, {num_tokens, hidden});
  Tensor qkv = qkv_.View(dtype, {num_tokens, qkv_heads, head_dim});
  Tensor attn = attn_out_.View(dtype, {num_tokens, num_heads, head_dim});
  Tensor gate_up = gate_up_.View(dtype, {num_tokens, 2 * inter});
  Tensor act = mlp_act_.View(dtype, {num_tokens, inter});

  // The residual stream starts as the embeddings; each layer adds its attention and MLP
  // outputs to it. Where the backend prefers it, each norm goes to the linear op that
  // reads it and each output projection adds to the stream (x is then only the scratch
  // of backends that do not fuse these); otherwise AddRmsNorm does both between plain
  // linear ops. The two compute the same values.
  be.Embedding(weights_.embed_tokens, ids_, residual);
  if (be.PrefersNormInLinear(num_tokens, hidden)) {
    for (int l = 0; l < config_.num_hidden_layers; ++l) {
      const LayerWeights& w = weights_.layers[l];
      be.RmsNormLinearRopeAndWriteKvCache({residual, w.input_norm, eps, x}, w.qkv, w.qkv_bias, qkv,
                                          num_heads, positions_, rope_, slots_, kv_layers_[l]);
      be.PagedAttention(qkv, num_heads, kv_layers_[l], attention_, scale, attn);
      be.LinearAddToResidual(attn.Reshape({num_tokens, num_heads * head_dim}), w.o_proj, w.o_bias,
                             x, residual);
      be.RmsNormLinearSiluAndMul({residual, w.post_attention_norm, eps, x}, w.gate_up,
                                 w.gate_up_bias, gate_up, act);
      be.LinearAddToResidual(act, w.down, w.down_bias, x, residual);
    }
    if (num_rows == 0) return;
    // Only the rows that need logits go through the final norm and the LM head.
    Tensor rows = last_rows_.View(dtype, {num_rows, hidden});
    be.Embedding(residual, logit_rows_, rows);
    be.RmsNormLinear({rows, weights_.final_norm, eps, hidden_.View(dtype, {num_rows, hidden})},
                     weights_.lm_head, Tensor(),
                     logits_.View(dtype, {num_rows, config_.vocab_size}));
    return;
  }
  be.RmsNorm(residual, weights_.layers[0].input_norm, eps, x);
  for (int l = 0; l < config_.num_hidden_layers; ++l) {
    const LayerWeights& w = weights_.layers[l];
    if (l > 0) be.AddRmsNorm(x, residual, w.input_norm, eps);
    be.LinearRopeAndWriteKvCache(x, w.qkv, w.qkv_bias, qkv, num_heads, positions_, rope_, slots_,
                                 kv_layers_[l]);
    be.PagedAttention(qkv, num_heads, kv_layers_[l], attention_, scale, attn);
    be.Linear(attn.Reshape({num_tokens, num_heads * head_dim}), w.o_proj, w.o_bias, x);
    be.AddRmsNorm(x, residual, w.post_attention_norm, eps);
    be.LinearSiluAndMul(x, w.gate_up, w.gate_up_bias, gate_up, act);
    be.Linear(act, w.down, w.down_bias, x);
  }
  if (num_rows == 0) return;
  // Only the rows that need logits go through the final norm and the LM head.
  be.AddRmsNorm(x, residual, weights_.final_norm, eps);
  Tensor rows = last_rows_.View(dtype, {num_rows, hidden});
  // Embedding is a row gather: rows[r] = x[logit_rows[r]].
  be.Embedding(x, logit_rows_, rows);
  be.Linear(rows, weights_.lm_head, Tensor(), logits_.View(dtype, {num_rows, config_.vocab_size}));
}

absl::Status ModelRunner::Run(int num_tokens, int num_rows, int bucket) {
  if (bucket == 0) {
    RunLayers(num_tokens, num_rows);
    return absl::OkStatus();
  }
  auto it = graphs_.find(bucket);
  if (it == graphs_.end()) {
    auto graph = backend_->Capture([&] { RunLayers(bucket, bucket); });
    if (!graph.ok()) return graph.status();
    if (*graph == nullptr) {  // the backend has no graphs: run eagerly from now on
      graphs_supported_ = false;
      RunLayers(bucket, bucket);
      return absl::OkStatus();
    }
    it = graphs_.emplace(bucket, *std::move(graph)).first;
  }
  it->second->Replay();
  return absl::OkStatus();
}

absl::Status ModelRunner::RunValidated(const ForwardBatch& batch, int32_t* host,
                                       std::span<const int32_t> fed_rows) {
  const int bucket = GraphBucket(batch);
  Upload(batch, bucket, host);
  ++num_issued_;
  // Fed tokens take the last step's sampled ids, one copy per run of consecutive rows.
  const StepLayout layout = LayoutFor(options_);
  auto* base = static_cast<int32_t*>(step_arrays_.data());
  for (size_t t = 0; t < fed_rows.size();) {
    size_t end = t + 1;
    while (end < fed_rows.size() && fed_rows[end] == fed_rows[end - 1] + 1) ++end;
    backend_->CopyOnDevice(base + layout.ids() + t, base + layout.sampled_ids() + fed_rows[t],
                           (end - t) * sizeof(int32_t));
    t = end;
  }
  return Run(batch.num_tokens(), static_cast<int>(batch.logit_rows.size()), bucket);
}

void ModelRunner::AppendLogits(int64_t first_row, int64_t num_rows) {
  const DType dtype = backend_->activation_dtype();
  const size_t count = static_cast<size_t>(num_rows * config_.vocab_size);
  const size_t bytes = count * DTypeSize(dtype);
  const char* src = static_cast<const char*>(logits_.data()) +
                    static_cast<size_t>(first_row * config_.vocab_size) * DTypeSize(dtype);
  host_logits_.resize(host_logits_.size() + count);
  float* dst = host_logits_.data() + host_logits_.size() - count;
  if (dtype == DType::kF32) {
    backend_->CopyToHost(dst, src, bytes);
  } else {
    raw_logits_.resize(bytes);
    backend_->CopyToHost(raw_logits_.data(), src, bytes);
    WidenToFloat(dtype, raw_logits_.data(), count, dst);
  }
}

absl::StatusOr<std::span<const float>> ModelRunner::Forward(const ForwardBatch& batch) {
  if (!pending_.empty()) {
    return absl::FailedPreconditionError("Forward while a sampling step is pending");
  }
  if (auto status = Validate(batch); !status.ok()) return status;
  if (auto status = RunValidated(batch, NextHostStep()); !status.ok()) return status;
  host_logits_.clear();
  const int64_t num_rows = static_cast<int64_t>(batch.logit_rows.size());
  if (num_rows > 0) AppendLogits(0, num_rows);
  return std::span<const float>(host_logits_);
}

absl::StatusOr<SampledRows> ModelRunner::ForwardSample(const ForwardBatch& batch,
                                                       std::span<const RowSampling> rows) {
  if (!pending_.empty()) {
    return absl::FailedPreconditionError("ForwardSample while a sampling step is pending");
  }
  if (auto status = IssueSample(batch, rows); !status.ok()) return status;
  return CollectSamples();
}

absl::Status ModelRunner::IssueSample(const ForwardBatch& batch, std::span<const RowSampling> rows,
                                      std::span<const int32_t> fed_rows) {
  if (rows.size() != batch.logit_rows.size()) {
    return absl::InvalidArgumentError(absl::StrCat("sampling parameters for ", rows.size(),
                                                   " rows of a batch with ",
                                                   batch.logit_rows.size(), " logit rows"));
  }
  if (static_cast<int>(pending_.size()) >= kMaxPendingSteps) {
    return absl::FailedPreconditionError(
        absl::StrCat("IssueSample with ", pending_.size(), " steps pending"));
  }
  for (const PendingStep& p : pending_) {
    if (!p.logits_rows.empty()) {
      return absl::FailedPreconditionError(
          "IssueSample while a pending step has logits to copy to the host");
    }
  }
  if (fed_rows.size() > static_cast<size_t>(batch.num_tokens())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fed_rows: ", fed_rows.size(), " rows for a batch of ", batch.num_tokens(), " tokens"));
  }
  for (int32_t row : fed_rows) {
    if (row < 0 || row >= last_sampled_rows_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "fed_rows: row ", row, " of a last step that sampled ", last_sampled_rows_, " rows"));
    }
  }
  if (auto status = Validate(batch); !status.ok()) return status;
  // The sampling parameters travel in the same transfer as the batch.
  const StepLayout layout = LayoutFor(options_);
  int32_t* host = NextHostStep();
  const int64_t n = static_cast<int64_t>(rows.size());
  PendingStep step{.rows = n};
  for (int64_t r = 0; r < n; ++r) {
    std::memcpy(&host[layout.temperature() + r], &rows[r].temperature, 4);
    host[layout.top_k() + r] = rows[r].top_k;
    std::memcpy(&host[layout.top_p() + r], &rows[r].top_p, 4);
    std::memcpy(&host[layout.uniform() + r], &rows[r].uniform, 4);
    if (rows[r].needs_logits) step.logits_rows.push_back(r);
  }
  auto* samples = static_cast<int32_t*>(host_samples_[num_issued_ % kMaxPendingSteps].data());
  if (auto status = RunValidated(batch, host, fed_rows); !status.ok()) return status;
  const DType dtype = backend_->activation_dtype();
  auto* base = static_cast<int32_t*>(step_arrays_.data());
  const SamplingBatch params{
      .temperature = Tensor(base + layout.temperature(), DType::kF32, {n}),
      .top_k = Tensor(base + layout.top_k(), DType::kI32, {n}),
      .top_p = Tensor(base + layout.top_p(), DType::kF32, {n}),
      .uniform = Tensor(base + layout.uniform(), DType::kF32, {n}),
  };
  backend_->SampleTokens(logits_.View(dtype, {n, config_.vocab_size}), params,
                         Tensor(base + layout.sampled_ids(), DType::kI32, {n}),
                         Tensor(base + layout.sampled_logprobs(), DType::kF32, {n}));
  // Ids and log probabilities are adjacent: one copy brings both.
  step.copy = backend_->CopyToHostAsync(samples, base + layout.sampled_ids(),
                                        static_cast<size_t>(layout.seqs + n) * 4);
  step.host_samples = samples;
  last_sampled_rows_ = n;
  pending_.push_back(std::move(step));
  return absl::OkStatus();
}

absl::StatusOr<SampledRows> ModelRunner::CollectSamples() {
  if (pending_.empty()) return absl::FailedPreconditionError("CollectSamples with no step pending");
  const PendingStep step = std::move(pending_.front());
  pending_.pop_front();
  backend_->WaitForHostCopy(step.copy);
  const StepLayout layout = LayoutFor(options_);
  const size_t n = static_cast<size_t>(step.rows);
  host_ids_.assign(step.host_samples, step.host_samples + n);
  host_logprobs_.resize(n);
  std::memcpy(host_logprobs_.data(), step.host_samples + layout.seqs, n * 4);
  // Rows sampled on the host need their logits: no later step has overwritten them.
  host_logits_.clear();
  for (int64_t r : step.logits_rows) AppendLogits(r, 1);
  return SampledRows{.ids = host_ids_, .logprobs = host_logprobs_, .logits = host_logits_};
}

}  // namespace loom
