// The CUDA backend: bf16 or fp16 weights, activations and KV cache with fp32
// accumulation, on one GPU, on one stream (kernels/cuda/launch.h lists the kernels).
//
// Large matrix products go to cuBLAS; products of up to kMaxGemvRows activation rows (a
// small decode batch) go to our GEMV, which reads the weights at memory speed. Paged
// attention picks its key splits from the batch shape and a fixed workspace, so a
// step allocates nothing. Capture records a step into a CUDA graph.
//
// Errors: allocation failure is ResourceExhausted. A failed launch or a fault found at a
// synchronization is a fatal LOOM_CHECK naming the CUDA error: the CUDA context cannot
// be used after a fault, so there is nothing to recover.
//
// Thread-safety: one thread at a time, like every Backend; each call makes the backend's
// device current on its thread.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace loom {

struct CudaBackendOptions {
  int device = 0;
  DType dtype = DType::kBF16;  // kBF16 or kF16
  // false: every fused op (a norm, SiLU-and-mul, RoPE with the KV write or the residual
  // add in a matrix product) runs as its separate passes, for bisecting and for
  // measuring what the fusions buy. LOOM_CUDA_FUSE=0 in the environment sets it false.
  bool fuse = true;
  // true: up to 5 rows, each RMSNorm runs in the prologue of the GEMV that reads it
  // (PrefersNormInLinear). Off by default: on an H200 the Llama-3-8B batch-1 step took
  // 4.485 ms that way and 4.010 ms in AddRmsNorm's order (docs/BENCHMARKS.md), since the
  // prologue holds every block's weight loads back until its rows are normalized.
  // LOOM_CUDA_NORM_IN_LINEAR=1 in the environment sets it true.
  bool norm_in_linear = false;
};

class CudaBackend final : public Backend {
 public:
  // FailedPrecondition when no such device is usable; InvalidArgument for a dtype other
  // than BF16 or F16; ResourceExhausted when the workspaces do not fit.
  static absl::StatusOr<std::unique_ptr<CudaBackend>> Create(const CudaBackendOptions& options);
  ~CudaBackend() override;

  std::string name() const override;
  DType activation_dtype() const override { return options_.dtype; }

  absl::StatusOr<DeviceBuffer> Allocate(size_t bytes) override;
  void CopyToDevice(void* dst, const void* src, size_t bytes) override;
  void CopyToHost(void* dst, const void* src, size_t bytes) override;
  absl::StatusOr<DeviceBuffer> AllocateHost(size_t bytes) override;
  void CopyOnDevice(void* dst, const void* src, size_t bytes) override;
  int64_t CopyToHostAsync(void* dst, const void* src, size_t bytes) override;
  void WaitForHostCopy(int64_t ticket) override;

  void Embedding(const Tensor& table, const Tensor& ids, Tensor out) override;
  void RmsNorm(const Tensor& x, const Tensor& weight, float eps, Tensor out) override;
  void AddRmsNorm(Tensor x, Tensor residual, const Tensor& weight, float eps) override;
  void Linear(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor out) override;
  void LinearAddToResidual(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           Tensor product, Tensor residual) override;
  void RmsNormLinear(const RmsNormInput& in, const Tensor& weight, const Tensor& bias,
                     Tensor out) override;
  void Rope(Tensor qkv, int num_heads, const Tensor& positions, const RopeParams& rope) override;
  void WriteKvCache(const Tensor& qkv, int num_heads, const Tensor& slots,
                    const KvCacheView& cache) override;
  void RopeAndWriteKvCache(Tensor qkv, int num_heads, const Tensor& positions,
                           const RopeParams& rope, const Tensor& slots,
                           const KvCacheView& cache) override;
  void LinearRopeAndWriteKvCache(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                 Tensor qkv, int num_heads, const Tensor& positions,
                                 const RopeParams& rope, const Tensor& slots,
                                 const KvCacheView& cache) override;
  void RmsNormLinearRopeAndWriteKvCache(const RmsNormInput& in, const Tensor& weight,
                                        const Tensor& bias, Tensor qkv, int num_heads,
                                        const Tensor& positions, const RopeParams& rope,
                                        const Tensor& slots, const KvCacheView& cache) override;
  void PagedAttention(const Tensor& qkv, int num_heads, const KvCacheView& cache,
                      const AttentionBatch& batch, float scale, Tensor out) override;
  void SiluAndMul(const Tensor& x, Tensor out) override;
  void LinearSiluAndMul(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor gate_up,
                        Tensor out) override;
  void RmsNormLinearSiluAndMul(const RmsNormInput& in, const Tensor& weight, const Tensor& bias,
                               Tensor gate_up, Tensor out) override;
  void SampleTokens(const Tensor& logits, const SamplingBatch& params, Tensor ids,
                    Tensor logprobs) override;

  absl::Status SupportsShape(int hidden, int head_dim, int num_kv_heads,
                             int intermediate) const override;
  // Up to kMaxGemvRows rows whose normalized copies fit a GEMV block's shared memory.
  bool PrefersNormInLinear(int64_t rows, int64_t hidden) const override;
  std::optional<DeviceMemory> MemoryInfo() const override;
  bool SamplesOnDevice() const override { return true; }
  absl::StatusOr<std::unique_ptr<BackendGraph>> Capture(
      const std::function<void()>& record) override;

  // Waits for every queued operation (for timing).
  void Synchronize();

 private:
  struct State;  // the stream, the cuBLAS handle and the workspaces
  CudaBackend(const CudaBackendOptions& options, std::unique_ptr<State> state);
  // Makes options_.device current on the calling thread.
  void UseDevice() const;
  // The bodies of Linear, LinearRopeAndWriteKvCache and LinearSiluAndMul. With a norm
  // (only where PrefersNormInLinear), x is norm->residual, normalized as the GEMV loads it.
  void LinearWithNorm(const Tensor& x, const RmsNormInput* norm, const Tensor& weight,
                      const Tensor& bias, Tensor out);
  void LinearRopeAndWriteKvCacheWithNorm(const Tensor& x, const RmsNormInput* norm,
                                         const Tensor& weight, const Tensor& bias, Tensor qkv,
                                         int num_heads, const Tensor& positions,
                                         const RopeParams& rope, const Tensor& slots,
                                         const KvCacheView& cache);
  void LinearSiluAndMulWithNorm(const Tensor& x, const RmsNormInput* norm, const Tensor& weight,
                                const Tensor& bias, Tensor gate_up, Tensor out);

  CudaBackendOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace loom
