// The CPU reference backend: plain loops in fp32, the oracle every other backend is
// checked against (DESIGN.md, "Backends"). Weights, activations and the KV cache are
// all F32; the engine widens bf16/fp16 checkpoints on upload.
//
// It is deliberately simple: one thread, no reordering beyond what keeps the matrix
// products vectorizable. Results are deterministic for a given build.
//
// Thread-safety: worker-thread only, like every Backend.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/backend.h"

namespace loom {

struct CpuBackendOptions {
  // Have the engine sample with SampleTokens, as it does on a GPU backend (the path
  // tests of the engine's device sampling and async scheduling take); else it samples
  // each row on the host from the logits.
  bool samples_on_device = false;
  // What PrefersNormInLinear answers. Both orders of a layer compute the same values;
  // true hands each norm to the linear op that reads it, false runs AddRmsNorm between
  // plain linear ops, as the CUDA backend does for large batches.
  bool norm_in_linear = true;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& options = {}) : options_(options) {}

  std::string name() const override { return "cpu"; }
  DType activation_dtype() const override { return DType::kF32; }

  absl::StatusOr<DeviceBuffer> Allocate(size_t bytes) override;
  void CopyToDevice(void* dst, const void* src, size_t bytes) override;
  void CopyToHost(void* dst, const void* src, size_t bytes) override;
  absl::StatusOr<DeviceBuffer> AllocateHost(size_t bytes) override { return Allocate(bytes); }
  void CopyOnDevice(void* dst, const void* src, size_t bytes) override;
  int64_t CopyToHostAsync(void* dst, const void* src, size_t bytes) override;
  void WaitForHostCopy(int64_t ticket) override;

  void Embedding(const Tensor& table, const Tensor& ids, Tensor out) override;
  void RmsNorm(const Tensor& x, const Tensor& weight, float eps, Tensor out) override;
  void AddRmsNorm(Tensor x, Tensor residual, const Tensor& weight, float eps) override;
  void Linear(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor out) override;
  void LinearAddToResidual(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           Tensor product, Tensor residual) override;
  void Rope(Tensor qkv, int num_heads, const Tensor& positions, const RopeParams& rope) override;
  void WriteKvCache(const Tensor& qkv, int num_heads, const Tensor& slots,
                    const KvCacheView& cache) override;
  void PagedAttention(const Tensor& qkv, int num_heads, const KvCacheView& cache,
                      const AttentionBatch& batch, float scale, Tensor out) override;
  void SiluAndMul(const Tensor& x, Tensor out) override;
  void SampleTokens(const Tensor& logits, const SamplingBatch& params, Tensor ids,
                    Tensor logprobs) override;

  bool SamplesOnDevice() const override { return options_.samples_on_device; }
  // The norm written to the scratch rows then read back costs what AddRmsNorm does, and
  // the final norm then runs on the logit rows only.
  bool PrefersNormInLinear(int64_t rows, int64_t hidden) const override {
    (void)rows, (void)hidden;
    return options_.norm_in_linear;
  }

 private:
  CpuBackendOptions options_;
  int64_t host_copies_ = 0;
};

}  // namespace loom
