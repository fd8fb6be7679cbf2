// The operations a decoder-only transformer forward needs, behind one interface.
//
// Implementations: kernels/cpu (the exact fp32 reference, used in CI) and kernels/cuda.
// The engine drives a forward pass through these calls only, so every backend runs the
// same model code (DESIGN.md, "Backends").
//
// Conventions for every operation:
//  - Tensors are row-major views into memory this backend allocated (Allocate, or a
//    KV pool). Shapes are given in comments as [dim0, dim1, ...].
//  - Floating-point tensors use activation_dtype(); index tensors are I32.
//  - Accumulation is fp32 on every backend.
//  - Calls are asynchronous on backends that have streams; results are visible to
//    the host after CopyToHost (which synchronizes).
//  - Weights and the index tensors (I32) an operation reads come from the host by
//    CopyToDevice, never from another operation: a backend may read them while the
//    operation before still runs.
//  - Shape and dtype mismatches are programming errors (LOOM_CHECK), never bad input:
//    the engine validates requests before they reach a backend.
//
// Thread-safety: a Backend belongs to one engine worker thread (DESIGN.md, "Threads").
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/tensor.h"

namespace loom {

// Rotary embedding parameters. `inv_freq` holds the per-pair inverse frequencies after
// any rope scaling (linear, dynamic NTK, llama3) has been applied by the engine.
// Pairs follow the Hugging Face "rotate_half" layout: element i pairs with i + dim/2.
struct RopeParams {
  Tensor inv_freq;  // [rotary_dim / 2] F32
  int rotary_dim = 0;
};

// The input of a linear op given as RmsNorm(residual, weight, eps), for the ops that
// take one (RmsNormLinear and its fused forms). A backend that fuses the norm reads
// `residual` and normalizes each row as it loads it; one that does not first writes the
// normalized rows to `scratch` (unspecified afterwards).
// residual, scratch: [T, hidden]; weight: [hidden]
struct RmsNormInput {
  Tensor residual;
  Tensor weight;
  float eps = 0.0f;
  Tensor scratch;
};

// One layer's slice of the paged KV pool. Block b holds tokens
// [b * block_size, (b + 1) * block_size) of whichever sequence owns it.
struct KvCacheView {
  Tensor k;  // [num_blocks, block_size, num_kv_heads, head_dim]
  Tensor v;  // [num_blocks, block_size, num_kv_heads, head_dim]
  int block_size() const { return static_cast<int>(k.dim(1)); }
  int num_kv_heads() const { return static_cast<int>(k.dim(2)); }
  int head_dim() const { return static_cast<int>(k.dim(3)); }
};

// The batch layout attention needs, in CSR form (DESIGN.md, "KV cache"). A batch holds
// `num_seqs` sequences; sequence s contributes q_len(s) = q_indptr[s + 1] - q_indptr[s]
// new query tokens (a prefill chunk, or 1 for decode) and attends to kv_len(s) cached
// tokens, the new ones included:
//   kv_len(s) = (kv_indptr[s + 1] - kv_indptr[s] - 1) * block_size + kv_last_block_len[s].
// The new tokens are the last q_len(s) of those kv_len(s), so query token i of s sits at
// position kv_len(s) - q_len(s) + i and attends causally to positions <= its own.
struct AttentionBatch {
  int num_seqs = 0;
  Tensor q_indptr;           // [num_seqs + 1] I32
  Tensor kv_indptr;          // [num_seqs + 1] I32, into kv_indices
  Tensor kv_indices;         // [total blocks] I32, block ids of every sequence in order
  Tensor kv_last_block_len;  // [num_seqs] I32, tokens used in each sequence's last block
  // Host copies of the same arrays, for backends that plan on the host (the CPU backend
  // reads these; a GPU backend may use them to pick a kernel).
  const int32_t* host_q_indptr = nullptr;
  const int32_t* host_kv_indptr = nullptr;
  const int32_t* host_kv_indices = nullptr;
  const int32_t* host_kv_last_block_len = nullptr;
  // Bounds for sizing a launch: the longest q_len(s), and an upper bound on every
  // kv_len(s). A captured graph is replayed with other lengths under the same bounds.
  int max_q_len = 0;
  int max_kv_len = 0;
};

// Per-row parameters of SampleTokens, in device memory; the meaning is Sampler's
// (engine/sampler.h) without penalties, min_p or alternatives.
struct SamplingBatch {
  Tensor temperature;  // [rows] F32; 0 = argmax
  Tensor top_k;        // [rows] I32; 0 = off
  Tensor top_p;        // [rows] F32 in (0, 1]
  Tensor uniform;      // [rows] F32 in [0, 1): the row's random draw
};

// Free and total memory of a backend's device.
struct DeviceMemory {
  int device = 0;  // the device's ordinal
  size_t free_bytes = 0;
  size_t total_bytes = 0;
};

// A recorded sequence of operations, replayed on the buffers it was recorded with.
class BackendGraph {
 public:
  virtual ~BackendGraph() = default;
  virtual void Replay() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "cpu" or "cuda:N".
  virtual std::string name() const = 0;
  // The dtype of activations, weights and the KV cache on this backend.
  virtual DType activation_dtype() const = 0;

  // --- memory ------------------------------------------------------------------------
  // ResourceExhausted when the device cannot hold `bytes` more.
  virtual absl::StatusOr<DeviceBuffer> Allocate(size_t bytes) = 0;
  // Host -> device, `bytes` bytes at `dst` (which may point inside a buffer).
  virtual void CopyToDevice(void* dst, const void* src, size_t bytes) = 0;
  // Device -> host; waits for all queued work first.
  virtual void CopyToHost(void* dst, const void* src, size_t bytes) = 0;

  // Host memory the device copies to and from without the host waiting (page-locked on
  // a GPU), for the transfers of a step issued before the last one is read back.
  // CopyToDevice from it is queued: `src` must stay unchanged until the work queued after
  // the copy has run. ResourceExhausted when it cannot be had.
  virtual absl::StatusOr<DeviceBuffer> AllocateHost(size_t bytes) = 0;
  // Device -> device, `bytes` bytes, queued after the work before it.
  virtual void CopyOnDevice(void* dst, const void* src, size_t bytes) = 0;
  // Device -> host into AllocateHost memory, queued after the work before it; returns at
  // once with a ticket for WaitForHostCopy.
  virtual int64_t CopyToHostAsync(void* dst, const void* src, size_t bytes) = 0;
  // Waits until the copy `ticket` names has landed, and not for work queued after it.
  // REQUIRES: `ticket` is one of the last kMaxPendingHostCopies tickets.
  virtual void WaitForHostCopy(int64_t ticket) = 0;
  static constexpr int kMaxPendingHostCopies = 4;

  // --- model operations --------------------------------------------------------------
  // out[t, :] = table[ids[t], :]: the embedding lookup, and any row gather.
  // table: [vocab, hidden]; ids: [T] I32; out: [T, hidden]
  virtual void Embedding(const Tensor& table, const Tensor& ids, Tensor out) = 0;

  // out = x / rms(x) * weight, per row.  x, out: [T, hidden]; weight: [hidden]
  virtual void RmsNorm(const Tensor& x, const Tensor& weight, float eps, Tensor out) = 0;

  // The pre-norm residual step, fused: residual += x; x = RmsNorm(residual) * weight.
  // x, residual: [T, hidden] (both updated in place); weight: [hidden]
  virtual void AddRmsNorm(Tensor x, Tensor residual, const Tensor& weight, float eps) = 0;

  // out = x @ weight^T (+ bias).  x: [T, in]; weight: [out, in] (the Hugging Face
  // layout); bias: [out] or a null view (data == nullptr); out: [T, out]
  virtual void Linear(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor out) = 0;

  // residual += x @ weight^T (+ bias), the product rounded to the activation dtype before
  // the add, as Linear into `product` and then AddRmsNorm's add would round it.
  // x: [T, in]; weight: [out, in]; product (scratch, unspecified afterwards), residual:
  // [T, out]
  virtual void LinearAddToResidual(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                   Tensor product, Tensor residual) = 0;

  // RmsNorm(in) into in.scratch, then Linear(in.scratch, ...): one pass on backends that
  // fuse them, with the same result up to the order of the norm's sum.
  virtual void RmsNormLinear(const RmsNormInput& in, const Tensor& weight, const Tensor& bias,
                             Tensor out) {
    RmsNorm(in.residual, in.weight, in.eps, in.scratch);
    Linear(in.scratch, weight, bias, out);
  }

  // The attention block works on the fused projection qkv: [T, heads + 2 * kv_heads,
  // head_dim], holding for each token its `num_heads` query heads, then its kv_heads key
  // heads, then its kv_heads value heads (the output of one matrix product).

  // Rotates the query and key heads of qkv in place at the given positions.
  // positions: [T] I32
  virtual void Rope(Tensor qkv, int num_heads, const Tensor& positions, const RopeParams& rope) = 0;

  // Stores the new tokens' key and value heads into the pool: token t goes to slot
  // slots[t] = block * block_size + offset.  slots: [T] I32
  virtual void WriteKvCache(const Tensor& qkv, int num_heads, const Tensor& slots,
                            const KvCacheView& cache) = 0;

  // Rope, then WriteKvCache: one pass on backends that fuse them.
  virtual void RopeAndWriteKvCache(Tensor qkv, int num_heads, const Tensor& positions,
                                   const RopeParams& rope, const Tensor& slots,
                                   const KvCacheView& cache) {
    Rope(qkv, num_heads, positions, rope);
    WriteKvCache(qkv, num_heads, slots, cache);
  }

  // Linear(x, weight, bias, qkv as [T, (heads + 2 * kv_heads) * head_dim]), then
  // RopeAndWriteKvCache: one pass on backends that fuse them, with the same result.
  // weight: the fused projection, [(heads + 2 * kv_heads) * head_dim, in]
  virtual void LinearRopeAndWriteKvCache(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                         Tensor qkv, int num_heads, const Tensor& positions,
                                         const RopeParams& rope, const Tensor& slots,
                                         const KvCacheView& cache) {
    Linear(x, weight, bias, qkv.Reshape({qkv.dim(0), qkv.dim(1) * qkv.dim(2)}));
    RopeAndWriteKvCache(qkv, num_heads, positions, rope, slots, cache);
  }

  // RmsNorm(in) into in.scratch, then LinearRopeAndWriteKvCache(in.scratch, ...), as
  // RmsNormLinear.
  virtual void RmsNormLinearRopeAndWriteKvCache(const RmsNormInput& in, const Tensor& weight,
                                                const Tensor& bias, Tensor qkv, int num_heads,
                                                const Tensor& positions, const RopeParams& rope,
                                                const Tensor& slots, const KvCacheView& cache) {
    RmsNorm(in.residual, in.weight, in.eps, in.scratch);
    LinearRopeAndWriteKvCache(in.scratch, weight, bias, qkv, num_heads, positions, rope, slots,
                              cache);
  }

  // Causal attention of each sequence's new queries (the query heads of qkv) over its
  // paged keys and values (see AttentionBatch), with grouped-query sharing: query head h
  // reads kv head h / (num_heads / kv_heads).  out: [T, num_heads, head_dim]
  // The keys and values of the positions before each sequence's new tokens must be in
  // the pool before the operation just before this one (the engine caches only the new
  // tokens right before it): a backend may read them while that operation still runs.
  virtual void PagedAttention(const Tensor& qkv, int num_heads, const KvCacheView& cache,
                              const AttentionBatch& batch, float scale, Tensor out) = 0;

  // out = silu(x[:, :inter]) * x[:, inter:].  x: [T, 2 * inter]; out: [T, inter]
  virtual void SiluAndMul(const Tensor& x, Tensor out) = 0;

  // Linear(x, weight, bias, gate_up), then SiluAndMul(gate_up, out): one pass on
  // backends that fuse them, with the same result. gate_up: [T, 2 * inter] is scratch
  // (unspecified afterwards); weight: [2 * inter, in]; out: [T, inter]
  virtual void LinearSiluAndMul(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                Tensor gate_up, Tensor out) {
    Linear(x, weight, bias, gate_up);
    SiluAndMul(gate_up, out);
  }

  // RmsNorm(in) into in.scratch, then LinearSiluAndMul(in.scratch, ...), as RmsNormLinear.
  virtual void RmsNormLinearSiluAndMul(const RmsNormInput& in, const Tensor& weight,
                                       const Tensor& bias, Tensor gate_up, Tensor out) {
    RmsNorm(in.residual, in.weight, in.eps, in.scratch);
    LinearSiluAndMul(in.scratch, weight, bias, gate_up, out);
  }

  // Picks one token per row of `logits` and its log probability under the raw logits.
  // Temperature 0 is argmax (lowest id among ties). Otherwise softmax(logits /
  // temperature) is cut to the top_k largest, then to the shortest prefix (descending
  // logit, ties by id) whose mass reaches top_p, and the draw walks the kept tokens in
  // id order to the first whose cumulative mass exceeds uniform * the kept mass.
  // logits: [rows, vocab]; ids: [rows] I32; logprobs: [rows] F32
  virtual void SampleTokens(const Tensor& logits, const SamplingBatch& params, Tensor ids,
                            Tensor logprobs) = 0;

  // --- optional capabilities ----------------------------------------------------------
  // Unimplemented, naming the dimension, when the kernels cannot run a model of this
  // shape (the CUDA kernels need head_dim 32, 64, 128 or 256 and rows of whole 16-byte
  // vectors). Checked once, when a model runner is created.
  virtual absl::Status SupportsShape(int hidden, int head_dim, int num_kv_heads,
                                     int intermediate) const {
    (void)hidden, (void)head_dim, (void)num_kv_heads, (void)intermediate;
    return absl::OkStatus();
  }
  // Whether a forward of `rows` token rows of width `hidden` should hand each RMSNorm to
  // the linear op that reads it (the RmsNormLinear ops, with LinearAddToResidual adding
  // each block's output to the residual stream) rather than run AddRmsNorm between plain
  // linear ops: true where the backend fuses the norms at that size, or where, as on the
  // CPU, both orders cost the same. Both compute the same values.
  virtual bool PrefersNormInLinear(int64_t rows, int64_t hidden) const {
    (void)rows, (void)hidden;
    return false;
  }
  // The device's memory, for sizing the KV pool; nullopt where memory is the host's.
  virtual std::optional<DeviceMemory> MemoryInfo() const { return std::nullopt; }
  // Whether the engine should sample with SampleTokens rather than copy logits to the
  // host (a GPU backend: the copy would cost more than the sampling).
  virtual bool SamplesOnDevice() const { return false; }
  // Records the operations `record` issues, without running them, into a graph that
  // replays them. `record` must not copy to or from the host. nullptr when the backend
  // has no graphs; Internal when recording fails.
  virtual absl::StatusOr<std::unique_ptr<BackendGraph>> Capture(
      const std::function<void()>& record) {
    (void)record;
    return std::unique_ptr<BackendGraph>();
  }
};

}  // namespace loom
