#include "kernels/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernels/cpu/cpu_linear.h"

namespace loom {
namespace {

constexpr size_t kAlignment = 64;

void CheckF32(const Tensor& t, const char* what) {
  LOOM_CHECK(t.dtype == DType::kF32) << what << " is " << DTypeName(t.dtype) << ", want F32";
}

void CheckI32(const Tensor& t, const char* what) {
  LOOM_CHECK(t.dtype == DType::kI32) << what << " is " << DTypeName(t.dtype) << ", want I32";
}

}  // namespace

absl::StatusOr<DeviceBuffer> CpuBackend::Allocate(size_t bytes) {
  const size_t rounded = (std::max<size_t>(bytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
  void* data = std::aligned_alloc(kAlignment, rounded);
  if (data == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("cpu: cannot allocate ", bytes, " bytes"));
  }
  std::memset(data, 0, rounded);
  return DeviceBuffer(data, bytes, [](void* p) { std::free(p); });
}

void CpuBackend::CopyToDevice(void* dst, const void* src, size_t bytes) {
  if (bytes != 0) std::memcpy(dst, src, bytes);
}

void CpuBackend::CopyToHost(void* dst, const void* src, size_t bytes) {
  if (bytes != 0) std::memcpy(dst, src, bytes);
}

void CpuBackend::CopyOnDevice(void* dst, const void* src, size_t bytes) {
  if (bytes != 0) std::memmove(dst, src, bytes);
}

int64_t CpuBackend::CopyToHostAsync(void* dst, const void* src, size_t bytes) {
  // Every operation has finished when it returns: the copy lands at once.
  if (bytes != 0) std::memcpy(dst, src, bytes);
  return ++host_copies_;
}

void CpuBackend::WaitForHostCopy(int64_t ticket) {
  LOOM_CHECK(ticket <= host_copies_ && ticket > host_copies_ - kMaxPendingHostCopies)
      << "host copy " << ticket << " is not one of the last " << kMaxPendingHostCopies << " of "
      << host_copies_;
}

void CpuBackend::Embedding(const Tensor& table, const Tensor& ids, Tensor out) {
  CheckF32(table, "embedding table");
  CheckI32(ids, "ids");
  CheckF32(out, "embedding out");
  const int64_t vocab = table.dim(0);
  const int64_t hidden = table.dim(1);
  LOOM_CHECK(out.dim(0) == ids.dim(0) && out.dim(1) == hidden)
      << "out " << out.ShapeString() << " for ids " << ids.ShapeString() << " and table "
      << table.ShapeString();
  for (int64_t t = 0; t < ids.dim(0); ++t) {
    const int32_t id = ids.as<int32_t>()[t];
    LOOM_CHECK(id >= 0 && id < vocab) << "token id " << id << " outside vocab " << vocab;
    std::memcpy(out.as<float>() + t * hidden, table.as<float>() + id * hidden,
                static_cast<size_t>(hidden) * sizeof(float));
  }
}

void CpuBackend::RmsNorm(const Tensor& x, const Tensor& weight, float eps, Tensor out) {
  CheckF32(x, "rms_norm x");
  CheckF32(weight, "rms_norm weight");
  const int64_t hidden = x.dim(1);
  LOOM_CHECK(weight.dim(0) == hidden && out.numel() == x.numel());
  for (int64_t t = 0; t < x.dim(0); ++t) {
    const float* row = x.as<float>() + t * hidden;
    float* dst = out.as<float>() + t * hidden;
    double sum_squares = 0.0;
    for (int64_t i = 0; i < hidden; ++i) sum_squares += static_cast<double>(row[i]) * row[i];
    const float inv_rms =
        static_cast<float>(1.0 / std::sqrt(sum_squares / static_cast<double>(hidden) + eps));
    for (int64_t i = 0; i < hidden; ++i) dst[i] = weight.as<float>()[i] * (row[i] * inv_rms);
  }
}

void CpuBackend::AddRmsNorm(Tensor x, Tensor residual, const Tensor& weight, float eps) {
  CheckF32(x, "add_rms_norm x");
  CheckF32(residual, "add_rms_norm residual");
  LOOM_CHECK(x.numel() == residual.numel())
      << x.ShapeString() << " vs residual " << residual.ShapeString();
  float* r = residual.as<float>();
  const float* d = x.as<float>();
  for (int64_t i = 0; i < x.numel(); ++i) r[i] += d[i];
  RmsNorm(residual, weight, eps, x);
}

void CpuBackend::Linear(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor out) {
  CheckF32(x, "linear x");
  CheckF32(weight, "linear weight");
  CheckF32(out, "linear out");
  const int64_t rows = x.dim(0);
  const int64_t in = x.dim(1);
  const int64_t out_features = weight.dim(0);
  LOOM_CHECK(weight.dim(1) == in && out.dim(0) == rows && out.dim(1) == out_features)
      << "x " << x.ShapeString() << " weight " << weight.ShapeString() << " out "
      << out.ShapeString();
  if (bias.data != nullptr) {
    CheckF32(bias, "linear bias");
    LOOM_CHECK(bias.numel() == out_features) << "bias " << bias.ShapeString();
  }
  cpu::LinearF32(x.as<float>(), weight.as<float>(), bias.as<float>(), rows, in, out_features,
                 out.as<float>());
}

void CpuBackend::LinearAddToResidual(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                     Tensor product, Tensor residual) {
  CheckF32(residual, "linear_add_to_residual residual");
  LOOM_CHECK(product.numel() == residual.numel())
      << "product " << product.ShapeString() << " vs residual " << residual.ShapeString();
  Linear(x, weight, bias, product);
  float* r = residual.as<float>();
  const float* p = product.as<float>();
  for (int64_t i = 0; i < residual.numel(); ++i) r[i] += p[i];
}

void CpuBackend::Rope(Tensor qkv, int num_heads, const Tensor& positions, const RopeParams& rope) {
  CheckF32(qkv, "rope qkv");
  CheckI32(positions, "rope positions");
  CheckF32(rope.inv_freq, "rope inv_freq");
  const int64_t num_tokens = qkv.dim(0);
  const int64_t total_heads = qkv.dim(1);
  const int64_t head_dim = qkv.dim(2);
  const int64_t num_kv_heads = (total_heads - num_heads) / 2;
  const int half = rope.rotary_dim / 2;
  LOOM_CHECK(positions.dim(0) == num_tokens && num_heads + 2 * num_kv_heads == total_heads)
      << "qkv " << qkv.ShapeString() << " with " << num_heads << " query heads";
  LOOM_CHECK(rope.rotary_dim <= head_dim && rope.inv_freq.numel() == half);
  const float* inv_freq = rope.inv_freq.as<float>();
  std::vector<float> cos_row(half);
  std::vector<float> sin_row(half);
  for (int64_t t = 0; t < num_tokens; ++t) {
    // The angle in double: this backend is the reference for long positions too.
    const double pos = positions.as<int32_t>()[t];
    for (int i = 0; i < half; ++i) {
      const double angle = pos * static_cast<double>(inv_freq[i]);
      cos_row[i] = static_cast<float>(std::cos(angle));
      sin_row[i] = static_cast<float>(std::sin(angle));
    }
    // Query heads, then key heads: the first num_heads + num_kv_heads heads of the row.
    for (int64_t h = 0; h < num_heads + num_kv_heads; ++h) {
      float* head = qkv.as<float>() + (t * total_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const float a = head[i];
        const float b = head[i + half];
        head[i] = a * cos_row[i] - b * sin_row[i];
        head[i + half] = b * cos_row[i] + a * sin_row[i];
      }
    }
  }
}

void CpuBackend::WriteKvCache(const Tensor& qkv, int num_heads, const Tensor& slots,
                              const KvCacheView& cache) {
  CheckF32(qkv, "kv write qkv");
  CheckI32(slots, "kv write slots");
  const int64_t total_heads = qkv.dim(1);
  const int64_t head_dim = qkv.dim(2);
  const int64_t num_kv_heads = cache.num_kv_heads();
  const int64_t row = num_kv_heads * head_dim;
  const int64_t num_slots = cache.k.dim(0) * cache.block_size();
  LOOM_CHECK(num_heads + 2 * num_kv_heads == total_heads && head_dim == cache.head_dim())
      << "qkv " << qkv.ShapeString() << " into cache " << cache.k.ShapeString();
  for (int64_t t = 0; t < qkv.dim(0); ++t) {
    const int32_t slot = slots.as<int32_t>()[t];
    LOOM_CHECK(slot >= 0 && slot < num_slots) << "slot " << slot << " of " << num_slots;
    const float* k = qkv.as<float>() + (t * total_heads + num_heads) * head_dim;
    const float* v = k + row;
    std::memcpy(cache.k.as<float>() + slot * row, k, static_cast<size_t>(row) * sizeof(float));
    std::memcpy(cache.v.as<float>() + slot * row, v, static_cast<size_t>(row) * sizeof(float));
  }
}

void CpuBackend::SiluAndMul(const Tensor& x, Tensor out) {
  CheckF32(x, "silu_and_mul x");
  CheckF32(out, "silu_and_mul out");
  const int64_t inter = out.dim(1);
  LOOM_CHECK(x.dim(0) == out.dim(0) && x.dim(1) == 2 * inter)
      << "x " << x.ShapeString() << " out " << out.ShapeString();
  for (int64_t t = 0; t < x.dim(0); ++t) {
    const float* gate = x.as<float>() + t * 2 * inter;
    const float* up = gate + inter;
    float* dst = out.as<float>() + t * inter;
    for (int64_t i = 0; i < inter; ++i) {
      dst[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
    }
  }
}

}  // namespace loom
