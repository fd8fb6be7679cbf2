// Launchers of the CUDA kernels, callable from host C++ (this header is C++17 and
// includes no CUDA header but the runtime's types, so the C++20 backend can use it).
//
// Every launcher enqueues on `stream` and returns at once. Pointers are device memory.
// Shapes are row-major; "T" is the storage type named by FloatType. A launcher checks
// nothing: CudaBackend checks shapes and dtypes before it calls one.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

namespace loom::cuda {

enum class FloatType { kBF16, kF16 };

// Whether the launchers let each kernel overlap the end of the one before it
// (programmatic dependent launch, kernels/cuda/pdl.cuh). On by default; off serializes
// every launch, for bisecting a fault.
void SetProgrammaticLaunch(bool enabled);

// Whether the attention's combine pass lets the next kernel start at its own start
// rather than after its wait (kernels/cuda/pdl.cuh). On by default: the kernel after
// attention (the output projection's GEMV) then issues its first weight loads while the
// attention runs, as it does when the attention needs no combine. Off: the usual order,
// for measuring the difference (cuda_decode_breakdown).
void SetCombineReleasesEarly(bool enabled);

// out[r, :] = table[ids[r], :].  table: [*, cols] T; ids: [rows] I32; out: [rows, cols] T
// REQUIRES: cols % 8 == 0.
void LaunchGatherRows(FloatType type, const void* table, const int32_t* ids, int rows, int cols,
                      void* out, cudaStream_t stream);

// out = x / rms(x) * weight per row, rounded like transformers' LlamaRMSNorm.
// x, out: [rows, hidden] T; weight: [hidden] T. REQUIRES: hidden % 8 == 0.
void LaunchRmsNorm(FloatType type, const void* x, const void* weight, float eps, int rows,
                   int hidden, void* out, cudaStream_t stream);

// residual += x; x = RmsNorm(residual) * weight.  x, residual: [rows, hidden] T.
void LaunchAddRmsNorm(FloatType type, void* x, void* residual, const void* weight, float eps,
                      int rows, int hidden, cudaStream_t stream);

// Rotates the first `rotate_heads` heads of each token (its query and key heads) in
// place, rotate_half layout, angle = positions[t] * inv_freq[i] in fp32.
// qkv: [tokens, total_heads, head_dim] T; positions: [tokens] I32; inv_freq: [rotary_dim/2]
void LaunchRope(FloatType type, void* qkv, int tokens, int total_heads, int rotate_heads,
                int head_dim, int rotary_dim, const int32_t* positions, const float* inv_freq,
                cudaStream_t stream);

// Copies each token's key and value heads (heads [num_heads, num_heads + kv_heads) and
// [num_heads + kv_heads, num_heads + 2 kv_heads) of qkv) to slot slots[t] of the caches.
// k_cache, v_cache: [slots, kv_heads, head_dim] T. REQUIRES: kv_heads * head_dim % 8 == 0.
void LaunchWriteKv(FloatType type, const void* qkv, int tokens, int num_heads, int kv_heads,
                   int head_dim, const int32_t* slots, void* k_cache, void* v_cache,
                   cudaStream_t stream);

// LaunchRope over all num_heads + kv_heads rotated heads, then LaunchWriteKv, in one
// kernel: the key heads go to the cache as they are rotated.
void LaunchRopeWriteKv(FloatType type, void* qkv, int tokens, int num_heads, int kv_heads,
                       int head_dim, int rotary_dim, const int32_t* positions,
                       const float* inv_freq, const int32_t* slots, void* k_cache, void* v_cache,
                       cudaStream_t stream);

// out = silu(x[:, :inter]) * x[:, inter:].  x: [rows, 2 * inter] T; out: [rows, inter] T.
// REQUIRES: inter % 8 == 0.
void LaunchSiluAndMul(FloatType type, const void* x, int rows, int inter, void* out,
                      cudaStream_t stream);

// out += x, the sum rounded to T (AddRmsNorm's add alone).  x, out: [count] T.
// REQUIRES: count % 8 == 0.
void LaunchAdd(FloatType type, const void* x, int64_t count, void* out, cudaStream_t stream);

// out[r, :] = bias for every row: the C of a GEMM with beta = 1 adds the bias before the
// single rounding.  out: [rows, cols] T; bias: [cols] T.
void LaunchBroadcastRows(FloatType type, const void* bias, int rows, int cols, void* out,
                         cudaStream_t stream);

// The most activation rows LaunchGemv takes; larger batches go to cuBLAS.
inline constexpr int kMaxGemvRows = 8;

// An RMSNorm of a GEMV's input rows (LaunchRmsNorm's), applied as the kernel loads them:
// x is then the residual stream, and each block first writes weight * round(x * inv_rms)
// for all rows into its shared memory. A null weight: the rows are used as they are.
struct GemvNorm {
  const void* weight = nullptr;  // [k] T
  float eps = 0.0f;
};
// The most bytes of input rows (rows * k * sizeof(T)) a GEMV with a GemvNorm takes: the
// 48 KiB of shared memory a block gets without opting in, less its reduction scratch.
inline constexpr int kMaxGemvNormBytes = 46 * 1024;

// out = x @ w^T (+ bias) for few rows, reading each weight once at full bandwidth.
// x: [rows, k] T; w: [n, k] T; bias: [n] T or null; out: [rows, n] T.
// REQUIRES: 1 <= rows <= kMaxGemvRows; k % 8 == 0; with norm.weight, rows * k *
// sizeof(T) <= kMaxGemvNormBytes (the same for the fused forms below).
void LaunchGemv(FloatType type, const void* x, const void* w, const void* bias, int rows, int n,
                int k, const GemvNorm& norm, void* out, cudaStream_t stream);

// LaunchGemv, then residual += out, in one pass with the same result: the product is
// rounded to T before the add. x: [rows, k] T; w: [n, k] T; residual: [rows, n] T.
// REQUIRES: 1 <= rows <= kMaxGemvRows; k % 8 == 0.
void LaunchGemvAddResidual(FloatType type, const void* x, const void* w, const void* bias, int rows,
                           int n, int k, void* residual, cudaStream_t stream);

// What LaunchGemvRopeKv's epilogue needs: LaunchRopeWriteKv's arguments, the rotation
// over whole heads.
struct RopeKvParams {
  int num_heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  const int32_t* positions = nullptr;  // [rows]
  const float* inv_freq = nullptr;     // [head_dim / 2]
  const int32_t* slots = nullptr;      // [rows]
  void* k_cache = nullptr;             // [slots, kv_heads, head_dim] T
  void* v_cache = nullptr;
};

// LaunchGemv into qkv = x @ w^T (+ bias), then LaunchRopeWriteKv with rotary_dim ==
// head_dim, in one pass with the same result.
// x: [rows, k] T; w: [(num_heads + 2 kv_heads) head_dim, k] T; bias: [that] T or null;
// qkv: [rows, num_heads + 2 kv_heads, head_dim] T.
// REQUIRES: 1 <= rows <= kMaxGemvRows; k % 8 == 0; head_dim even.
void LaunchGemvRopeKv(FloatType type, const void* x, const void* w, const void* bias, int rows,
                      int k, const GemvNorm& norm, const RopeKvParams& rope, void* qkv,
                      cudaStream_t stream);

// LaunchGemv into gate_up = x @ w^T (+ bias), then LaunchSiluAndMul, in one pass with the
// same result: out = silu(gate_up[:, :inter]) * gate_up[:, inter:].
// x: [rows, k] T; w: [2 * inter, k] T; bias: [2 * inter] T or null; out: [rows, inter] T.
// REQUIRES: 1 <= rows <= kMaxGemvRows; k % 8 == 0.
void LaunchGemvSiluAndMul(FloatType type, const void* x, const void* w, const void* bias, int rows,
                          int inter, int k, const GemvNorm& norm, void* out, cudaStream_t stream);

// Paged causal attention (kernels/backend.h, AttentionBatch), flash-style: each block
// takes a tile of query rows of one sequence and one KV head and a share ("split") of
// its keys, with an online softmax; splits > 1 write fp32 partials that a second kernel
// combines.
struct PagedAttentionParams {
  FloatType type = FloatType::kBF16;
  const void* qkv = nullptr;      // [tokens, num_heads + 2 * kv_heads, head_dim]
  const void* k_cache = nullptr;  // [blocks, block_size, kv_heads, head_dim]
  const void* v_cache = nullptr;
  void* out = nullptr;  // [tokens, num_heads, head_dim]
  const int32_t* q_indptr = nullptr;
  const int32_t* kv_indptr = nullptr;
  const int32_t* kv_indices = nullptr;
  const int32_t* kv_last_block_len = nullptr;
  int num_seqs = 0;
  int num_tokens = 0;
  int num_heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  int block_size = 0;
  int max_q_len = 0;   // over the sequences: sizes the grid
  int num_splits = 1;  // key shares per (sequence, head); 1 writes `out` directly
  // A launch serves the sequences whose rows (q_len * query heads per KV head) lie in
  // (rows_above, rows_at_most]: LaunchPagedAttention sets these to run the decodes and
  // the prefill chunks of a mixed batch with tiles of their own size.
  int rows_above = 0;
  int rows_at_most = 1 << 30;
  // Optional, for a mixed batch: the host copy of q_indptr and device scratch of
  // tile_scratch_capacity ints, so that the prefill launch's grid lists only the tiles
  // that exist instead of num_seqs x the longest sequence's tiles.
  const int32_t* host_q_indptr = nullptr;
  int32_t* tile_scratch = nullptr;
  int tile_scratch_capacity = 0;
  // The host copy of what tile_scratch holds, so that the layers of one step, which
  // list the same tiles, copy the list once. Owned by the caller, with tile_scratch.
  std::vector<int32_t>* tile_scratch_contents = nullptr;
  const int32_t* tile_indptr = nullptr;  // set by the launcher: [num_seqs + 1] on the device
  float scale = 1.0f;
  // With num_splits > 1: [tokens, num_heads, num_splits, head_dim] and
  // [tokens, num_heads, num_splits, 2] fp32.
  float* partial_out = nullptr;
  float* partial_max_sum = nullptr;
  bool combine_releases_early = false;  // set by the launcher (SetCombineReleasesEarly)
};

// The most key splits LaunchPagedAttention takes.
inline constexpr int kMaxAttentionSplits = 64;

// The head sizes the attention kernels are built for.
bool PagedAttentionSupports(int head_dim);
void LaunchPagedAttention(const PagedAttentionParams& params, cudaStream_t stream);

// Picks the next token of each row of `logits` on the device, and its log probability
// under the raw logits. Per row: temperature 0 is argmax (lowest id among ties); else
// softmax(logits / temperature) restricted to the top_k largest (0 = all) and then to
// the shortest prefix, by descending logit with ties by id, whose mass reaches top_p;
// the draw walks the kept tokens in id order to the first whose cumulative mass
// exceeds uniform * kept mass.
struct SampleParams {
  FloatType type = FloatType::kBF16;
  const void* logits = nullptr;  // [rows, vocab] T
  int rows = 0;
  int vocab = 0;
  const float* temperature = nullptr;  // [rows]
  const int32_t* top_k = nullptr;      // [rows]
  const float* top_p = nullptr;        // [rows]
  const float* uniform = nullptr;      // [rows] in [0, 1)
  int32_t* out_ids = nullptr;          // [rows]
  float* out_logprobs = nullptr;       // [rows]
  // Optional: blocks per row for the first pass (a few rows would leave the GPU idle),
  // with [rows, chunks, 4] floats of scratch and [rows] counters that start at zero
  // (and are left at zero).
  int chunks = 1;
  float* chunk_partials = nullptr;
  int32_t* chunk_counters = nullptr;
};

void LaunchSample(const SampleParams& params, cudaStream_t stream);

}  // namespace loom::cuda
