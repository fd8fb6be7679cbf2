// The CPU consistency test of the CUDA backend: every operation runs on both backends
// with the same inputs (random, drawn from a fixed seed, rounded to the GPU's dtype so
// that both start from identical values) at several shapes, and the GPU's output must
// match the CPU's fp32 result within a stated tolerance:
//
//   max_i |gpu_i - cpu_i| / max_i |cpu_i|  <=  tolerance
//
// bf16 keeps 8 significant bits (relative step 2^-8 = 0.4%), fp16 keeps 11. The
// tolerances allow a few steps of the storage type for rounding of the output and of
// the intermediates transformers also rounds. Sampling must pick identical ids.
//
// Every test skips when no CUDA device is usable.
#include "kernels/cuda/cuda_backend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "engine/model/model_config.h"
#include "engine/rope.h"
#include "kernels/cpu/cpu_backend.h"

namespace loom {
namespace {

// The same tensor on both backends.
struct Twin {
  Tensor cpu;
  Tensor gpu;
};

uint16_t Narrow(DType dtype, float x) {
  return dtype == DType::kF16 ? FloatToF16(x) : FloatToBF16(x);
}

class CudaBackendTest : public ::testing::TestWithParam<DType> {
 protected:
  void SetUp() override {
    auto gpu = CudaBackend::Create({.device = 0, .dtype = GetParam()});
    if (!gpu.ok()) GTEST_SKIP() << "no usable CUDA device: " << gpu.status();
    gpu_ = *std::move(gpu);
  }

  DType dtype() const { return GetParam(); }
  // Bits kept by the GPU's dtype: the unit of the tolerances.
  double Epsilon() const { return dtype() == DType::kF16 ? 0x1.0p-10 : 0x1.0p-7; }

  // A float tensor: F32 on the CPU, the GPU dtype on the GPU, both holding `values`
  // rounded to the GPU dtype.
  Twin Make(std::vector<float> values, std::initializer_list<int64_t> dims) {
    std::vector<uint16_t> narrow(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      narrow[i] = Narrow(dtype(), values[i]);
      WidenToFloat(dtype(), &narrow[i], 1, &values[i]);
    }
    Twin t{Tensor(Keep(cpu_, values.size() * 4), DType::kF32, dims),
           Tensor(Keep(*gpu_, values.size() * 2), dtype(), dims)};
    cpu_.CopyToDevice(t.cpu.data, values.data(), values.size() * 4);
    gpu_->CopyToDevice(t.gpu.data, narrow.data(), narrow.size() * 2);
    return t;
  }
  // An F32 or I32 tensor, the same bytes on both.
  template <typename T>
  Twin MakeExact(const std::vector<T>& values, DType type) {
    const int64_t n = static_cast<int64_t>(values.size());
    Twin t{Tensor(Keep(cpu_, n * 4), type, {n}), Tensor(Keep(*gpu_, n * 4), type, {n})};
    cpu_.CopyToDevice(t.cpu.data, values.data(), n * 4);
    gpu_->CopyToDevice(t.gpu.data, values.data(), n * 4);
    return t;
  }
  Twin Zeros(std::initializer_list<int64_t> dims) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return Make(std::vector<float>(n), dims);
  }

  std::vector<float> ReadCpu(const Tensor& t) {
    std::vector<float> out(t.numel());
    cpu_.CopyToHost(out.data(), t.data, t.nbytes());
    return out;
  }
  std::vector<float> ReadGpu(const Tensor& t) {
    std::vector<uint16_t> raw(t.numel());
    gpu_->CopyToHost(raw.data(), t.data, t.nbytes());
    std::vector<float> out(t.numel());
    WidenToFloat(t.dtype, raw.data(), raw.size(), out.data());
    return out;
  }
  // max |got - want| / max |want|.
  static double MaxRelative(const std::vector<float>& got, const std::vector<float>& want) {
    double max_diff = 0.0;
    double max_ref = 1e-30;
    for (size_t i = 0; i < want.size(); ++i) {
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(got[i]) - want[i]));
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(want[i])));
    }
    return max_diff / max_ref;
  }
  // max |gpu - cpu| / max |cpu|, over the whole tensor.
  double RelativeError(const Twin& t) { return MaxRelative(ReadGpu(t.gpu), ReadCpu(t.cpu)); }
  // max |a - b| / max |b| of two GPU tensors.
  double RelativeDiff(const Tensor& a, const Tensor& b) {
    return MaxRelative(ReadGpu(a), ReadGpu(b));
  }

  std::vector<float> Random(size_t n, float scale = 1.0f) {
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng_);
    return v;
  }
  std::vector<int32_t> RandomIds(size_t n, int32_t limit) {
    std::uniform_int_distribution<int32_t> dist(0, limit - 1);
    std::vector<int32_t> v(n);
    for (int32_t& x : v) x = dist(rng_);
    return v;
  }

  CpuBackend cpu_;
  std::unique_ptr<CudaBackend> gpu_;
  std::mt19937 rng_{20261204};

 private:
  void* Keep(Backend& backend, size_t bytes) {
    auto buffer = backend.Allocate(bytes);
    EXPECT_TRUE(buffer.ok()) << buffer.status();
    buffers_.push_back(*std::move(buffer));
    return buffers_.back().data();
  }
  std::vector<DeviceBuffer> buffers_;
};

TEST_P(CudaBackendTest, EmbeddingGathersRowsExactly) {
  for (auto [vocab, hidden, tokens] : {std::tuple{100, 64, 7}, {2048, 4096, 33}}) {
    Twin table = Make(Random(vocab * hidden), {vocab, hidden});
    Twin ids = MakeExact(RandomIds(tokens, vocab), DType::kI32);
    Twin out = Zeros({tokens, hidden});
    cpu_.Embedding(table.cpu, ids.cpu, out.cpu);
    gpu_->Embedding(table.gpu, ids.gpu, out.gpu);
    EXPECT_EQ(RelativeError(out), 0.0) << vocab << "x" << hidden;
  }
}

TEST_P(CudaBackendTest, RmsNormAndAddRmsNormMatchCpu) {
  for (auto [rows, hidden] : {std::pair{1, 256}, {7, 4096}, {33, 5120}}) {
    Twin x = Make(Random(rows * hidden, 3.0f), {rows, hidden});
    Twin w = Make(Random(hidden, 0.5f), {hidden});
    Twin out = Zeros({rows, hidden});
    cpu_.RmsNorm(x.cpu, w.cpu, 1e-5f, out.cpu);
    gpu_->RmsNorm(x.gpu, w.gpu, 1e-5f, out.gpu);
    EXPECT_LE(RelativeError(out), 2 * Epsilon()) << rows << "x" << hidden;

    Twin residual = Make(Random(rows * hidden, 3.0f), {rows, hidden});
    cpu_.AddRmsNorm(x.cpu, residual.cpu, w.cpu, 1e-6f);
    gpu_->AddRmsNorm(x.gpu, residual.gpu, w.gpu, 1e-6f);
    EXPECT_LE(RelativeError(residual), Epsilon()) << "residual " << rows << "x" << hidden;
    EXPECT_LE(RelativeError(x), 3 * Epsilon()) << "normed " << rows << "x" << hidden;
  }
}

TEST_P(CudaBackendTest, LinearMatchesCpuOnGemvAndCublasPaths) {
  // Up to kMaxGemvRows rows take the GEMV kernel; more take cuBLAS.
  for (auto [rows, in, out, bias] : {std::tuple{1, 256, 512, false},
                                     {1, 4096, 6144, false},
                                     {5, 14336, 1024, true},
                                     {8, 512, 2048, true},
                                     {9, 4096, 1024, false},
                                     {37, 688, 256, true},
                                     {300, 1024, 768, false}}) {
    Twin x = Make(Random(rows * in), {rows, in});
    Twin w = Make(Random(out * in, 0.05f), {out, in});
    Twin b = bias ? Make(Random(out), {out}) : Twin{};
    Twin y = Zeros({rows, out});
    cpu_.Linear(x.cpu, w.cpu, b.cpu, y.cpu);
    gpu_->Linear(x.gpu, w.gpu, b.gpu, y.gpu);
    EXPECT_LE(RelativeError(y), 2 * Epsilon()) << rows << "x" << in << "->" << out;
  }
}

TEST_P(CudaBackendTest, RopeMatchesCpuForEveryScaling) {
  struct Case {
    RopeType type;
    int head_dim;
    double theta;
  };
  for (const Case& c :
       {Case{RopeType::kDefault, 32, 10000.0}, Case{RopeType::kLinear, 64, 10000.0},
        Case{RopeType::kDynamic, 128, 10000.0}, Case{RopeType::kLlama3, 128, 500000.0}}) {
    ModelConfig config;
    config.head_dim = c.head_dim;
    config.rope_theta = c.theta;
    config.rope_scaling.type = c.type;
    config.rope_scaling.factor = c.type == RopeType::kLlama3 ? 8.0 : 4.0;
    config.rope_scaling.original_max_position_embeddings = 8192;
    config.rope_scaling.low_freq_factor = 1.0;
    config.rope_scaling.high_freq_factor = 4.0;
    const std::vector<float> inv_freq = ComputeRopeInvFreq(config);
    Twin freq = MakeExact(inv_freq, DType::kF32);
    const int tokens = 9;
    const int heads = 8;
    const int kv_heads = 2;
    Twin qkv = Make(Random(tokens * (heads + 2 * kv_heads) * c.head_dim),
                    {tokens, heads + 2 * kv_heads, c.head_dim});
    Twin positions = MakeExact(RandomIds(tokens, 4096), DType::kI32);
    cpu_.Rope(qkv.cpu, heads, positions.cpu, RopeParams{freq.cpu, c.head_dim});
    gpu_->Rope(qkv.gpu, heads, positions.gpu, RopeParams{freq.gpu, c.head_dim});
    // fp32 angles of positions up to 4096 differ from the CPU's double ones by ~1e-4 rad.
    EXPECT_LE(RelativeError(qkv), 3 * Epsilon()) << "rope type " << static_cast<int>(c.type);
  }
}

// The fused kernel is the two it replaces, bit for bit, with a partial rotary (the tail
// of each key head is stored unrotated), a full one, and one too narrow for 16-byte
// pairs (two passes); and the CPU agrees.
TEST_P(CudaBackendTest, RopeAndWriteKvCacheIsRopeThenWriteKvCache) {
  for (auto [head_dim, rotary_dim] : {std::pair{64, 32}, {128, 128}, {32, 8}}) {
    const int tokens = 7;
    const int heads = 8;
    const int kv_heads = 2;
    const int pool = 6;
    const int block_size = 4;
    ModelConfig config;
    config.head_dim = rotary_dim;
    config.rope_theta = 10000.0;
    Twin freq = MakeExact(ComputeRopeInvFreq(config), DType::kF32);
    const RopeParams cpu_rope{freq.cpu, rotary_dim};
    const RopeParams gpu_rope{freq.gpu, rotary_dim};
    const std::vector<float> values = Random(tokens * (heads + 2 * kv_heads) * head_dim);
    Twin fused = Make(values, {tokens, heads + 2 * kv_heads, head_dim});
    Twin apart = Make(values, {tokens, heads + 2 * kv_heads, head_dim});
    Twin positions = MakeExact(RandomIds(tokens, 4096), DType::kI32);
    std::vector<int32_t> slot_order(pool * block_size);
    std::iota(slot_order.begin(), slot_order.end(), 0);
    std::shuffle(slot_order.begin(), slot_order.end(), rng_);
    Twin slots = MakeExact(std::vector<int32_t>(slot_order.begin(), slot_order.begin() + tokens),
                           DType::kI32);
    Twin k = Zeros({pool, block_size, kv_heads, head_dim});
    Twin v = Zeros({pool, block_size, kv_heads, head_dim});
    Twin k_apart = Zeros({pool, block_size, kv_heads, head_dim});
    Twin v_apart = Zeros({pool, block_size, kv_heads, head_dim});
    gpu_->RopeAndWriteKvCache(fused.gpu, heads, positions.gpu, gpu_rope, slots.gpu,
                              KvCacheView{k.gpu, v.gpu});
    gpu_->Rope(apart.gpu, heads, positions.gpu, gpu_rope);
    gpu_->WriteKvCache(apart.gpu, heads, slots.gpu, KvCacheView{k_apart.gpu, v_apart.gpu});
    EXPECT_EQ(ReadGpu(fused.gpu), ReadGpu(apart.gpu)) << "head " << head_dim;
    EXPECT_EQ(ReadGpu(k.gpu), ReadGpu(k_apart.gpu)) << "head " << head_dim;
    EXPECT_EQ(ReadGpu(v.gpu), ReadGpu(v_apart.gpu)) << "head " << head_dim;
    cpu_.RopeAndWriteKvCache(fused.cpu, heads, positions.cpu, cpu_rope, slots.cpu,
                             KvCacheView{k.cpu, v.cpu});
    EXPECT_LE(RelativeError(k), 3 * Epsilon()) << "head " << head_dim;
    EXPECT_EQ(RelativeError(v), 0.0) << "head " << head_dim;
  }
}

// The fused kernel (GEMV rows, the whole head rotated) is Linear then
// RopeAndWriteKvCache bit for bit, in qkv and in both caches; a partial rotation and
// more rows than the GEMV takes run the two passes; and the CPU agrees.
TEST_P(CudaBackendTest, LinearRopeAndWriteKvCacheIsLinearThenRopeAndWriteKvCache) {
  struct Case {
    int rows, in, heads, kv_heads, head_dim, rotary_dim;
    bool bias;
  };
  for (const Case& c : {Case{1, 512, 8, 2, 128, 128, false}, Case{5, 256, 4, 4, 64, 64, true},
                        Case{8, 1024, 16, 2, 32, 32, false}, Case{3, 256, 8, 2, 64, 32, true},
                        Case{9, 256, 8, 2, 64, 64, false}}) {
    const int total_heads = c.heads + 2 * c.kv_heads;
    const int features = total_heads * c.head_dim;
    const int pool = 4;
    const int block_size = 4;
    ModelConfig config;
    config.head_dim = c.rotary_dim;
    config.rope_theta = 500000.0;
    Twin freq = MakeExact(ComputeRopeInvFreq(config), DType::kF32);
    Twin x = Make(Random(c.rows * c.in), {c.rows, c.in});
    Twin w = Make(Random(features * c.in, 0.05f), {features, c.in});
    Twin b = c.bias ? Make(Random(features), {features}) : Twin{};
    Twin positions = MakeExact(RandomIds(c.rows, 4096), DType::kI32);
    std::vector<int32_t> slot_order(pool * block_size);
    std::iota(slot_order.begin(), slot_order.end(), 0);
    std::shuffle(slot_order.begin(), slot_order.end(), rng_);
    Twin slots = MakeExact(std::vector<int32_t>(slot_order.begin(), slot_order.begin() + c.rows),
                           DType::kI32);
    Twin fused = Zeros({c.rows, total_heads, c.head_dim});
    Twin apart = Zeros({c.rows, total_heads, c.head_dim});
    Twin k = Zeros({pool, block_size, c.kv_heads, c.head_dim});
    Twin v = Zeros({pool, block_size, c.kv_heads, c.head_dim});
    Twin k_apart = Zeros({pool, block_size, c.kv_heads, c.head_dim});
    Twin v_apart = Zeros({pool, block_size, c.kv_heads, c.head_dim});
    const RopeParams gpu_rope{freq.gpu, c.rotary_dim};
    gpu_->LinearRopeAndWriteKvCache(x.gpu, w.gpu, b.gpu, fused.gpu, c.heads, positions.gpu,
                                    gpu_rope, slots.gpu, KvCacheView{k.gpu, v.gpu});
    gpu_->Linear(x.gpu, w.gpu, b.gpu, apart.gpu.Reshape({c.rows, features}));
    gpu_->RopeAndWriteKvCache(apart.gpu, c.heads, positions.gpu, gpu_rope, slots.gpu,
                              KvCacheView{k_apart.gpu, v_apart.gpu});
    SCOPED_TRACE(::testing::Message() << c.rows << " rows, " << c.heads << "/" << c.kv_heads
                                      << " heads of " << c.head_dim << ", rotary " << c.rotary_dim);
    EXPECT_EQ(ReadGpu(fused.gpu), ReadGpu(apart.gpu));
    EXPECT_EQ(ReadGpu(k.gpu), ReadGpu(k_apart.gpu));
    EXPECT_EQ(ReadGpu(v.gpu), ReadGpu(v_apart.gpu));
    cpu_.LinearRopeAndWriteKvCache(x.cpu, w.cpu, b.cpu, fused.cpu, c.heads, positions.cpu,
                                   RopeParams{freq.cpu, c.rotary_dim}, slots.cpu,
                                   KvCacheView{k.cpu, v.cpu});
    // Angles of positions up to 4096: fp32 on the GPU, double on the CPU (RopeMatchesCpu).
    EXPECT_LE(RelativeError(fused), 4 * Epsilon());
    EXPECT_LE(RelativeError(k), 4 * Epsilon());
    EXPECT_LE(RelativeError(v), 2 * Epsilon());
  }
}

TEST_P(CudaBackendTest, SiluAndMulMatchesCpu) {
  for (auto [rows, inter] : {std::pair{1, 688}, {5, 14336}, {64, 256}}) {
    Twin x = Make(Random(rows * 2 * inter, 2.0f), {rows, 2 * inter});
    Twin out = Zeros({rows, inter});
    cpu_.SiluAndMul(x.cpu, out.cpu);
    gpu_->SiluAndMul(x.gpu, out.gpu);
    EXPECT_LE(RelativeError(out), 2 * Epsilon()) << rows << "x" << inter;
  }
}

// The fused kernel (GEMV rows) is Linear then SiluAndMul bit for bit, with and without
// a bias, at every GEMV row count and past them (cuBLAS: the two passes); and the CPU
// agrees.
TEST_P(CudaBackendTest, LinearSiluAndMulIsLinearThenSiluAndMul) {
  for (auto [rows, in, inter, bias] : {std::tuple{1, 4096, 1792, false},
                                       {3, 256, 688, true},
                                       {8, 1024, 512, false},
                                       {9, 512, 256, true}}) {
    Twin x = Make(Random(rows * in), {rows, in});
    Twin w = Make(Random(2 * inter * in, 0.05f), {2 * inter, in});
    Twin b = bias ? Make(Random(2 * inter), {2 * inter}) : Twin{};
    Twin gate_up = Zeros({rows, 2 * inter});
    Twin fused = Zeros({rows, inter});
    Twin apart = Zeros({rows, inter});
    gpu_->LinearSiluAndMul(x.gpu, w.gpu, b.gpu, gate_up.gpu, fused.gpu);
    gpu_->Linear(x.gpu, w.gpu, b.gpu, gate_up.gpu);
    gpu_->SiluAndMul(gate_up.gpu, apart.gpu);
    EXPECT_EQ(ReadGpu(fused.gpu), ReadGpu(apart.gpu)) << rows << "x" << in << "->" << inter;
    cpu_.LinearSiluAndMul(x.cpu, w.cpu, b.cpu, gate_up.cpu, fused.cpu);
    EXPECT_LE(RelativeError(fused), 3 * Epsilon()) << rows << "x" << in << "->" << inter;
  }
}

// residual += Linear, through the GEMV's epilogue (up to kMaxGemvRows rows) or cuBLAS
// and the add kernel: bit for bit the residual that Linear then AddRmsNorm leave, and
// the CPU agrees.
TEST_P(CudaBackendTest, LinearAddToResidualIsLinearThenTheAdd) {
  for (auto [rows, in, out, bias] : {std::tuple{1, 4096, 1024, false},
                                     {5, 512, 256, true},
                                     {8, 1024, 512, false},
                                     {9, 512, 256, true},
                                     {37, 256, 512, false}}) {
    Twin x = Make(Random(rows * in), {rows, in});
    Twin w = Make(Random(out * in, 0.05f), {out, in});
    Twin b = bias ? Make(Random(out), {out}) : Twin{};
    const std::vector<float> start = Random(rows * out, 2.0f);
    Twin residual = Make(start, {rows, out});
    Twin apart = Make(start, {rows, out});
    Twin product = Zeros({rows, out});
    Twin ones = Make(std::vector<float>(out, 1.0f), {out});
    gpu_->LinearAddToResidual(x.gpu, w.gpu, b.gpu, product.gpu, residual.gpu);
    gpu_->Linear(x.gpu, w.gpu, b.gpu, product.gpu);
    gpu_->AddRmsNorm(product.gpu, apart.gpu, ones.gpu, 1e-5f);
    EXPECT_EQ(ReadGpu(residual.gpu), ReadGpu(apart.gpu)) << rows << "x" << in << "->" << out;
    cpu_.LinearAddToResidual(x.cpu, w.cpu, b.cpu, product.cpu, residual.cpu);
    EXPECT_LE(RelativeError(residual), 3 * Epsilon()) << rows << "x" << in << "->" << out;
  }
}

// The norm handed to the linear ops: fused into the GEMV where PrefersNormInLinear (a
// few rows whose normalized copies fit a block's shared memory), the two passes past
// that. Each op is RmsNorm then the op up to the order of the norm's sum (a bf16 step or
// two of the outputs), leaves the residual as it was, and agrees with the CPU.
TEST_P(CudaBackendTest, RmsNormLinearOpsAreRmsNormThenTheOp) {
  EXPECT_FALSE(gpu_->PrefersNormInLinear(1, 4096));  // off unless asked for
  auto fused = CudaBackend::Create({.device = 0, .dtype = dtype(), .norm_in_linear = true});
  ASSERT_TRUE(fused.ok()) << fused.status();
  gpu_ = *std::move(fused);
  EXPECT_TRUE(gpu_->PrefersNormInLinear(1, 4096));
  EXPECT_TRUE(gpu_->PrefersNormInLinear(5, 4096));
  EXPECT_FALSE(gpu_->PrefersNormInLinear(6, 4096));
  EXPECT_FALSE(gpu_->PrefersNormInLinear(9, 256));
  const int heads = 4, kv_heads = 2, head_dim = 64, pool = 4, block_size = 4;
  const int features = (heads + 2 * kv_heads) * head_dim;
  ModelConfig config;
  config.head_dim = head_dim;
  config.rope_theta = 10000.0;
  Twin freq = MakeExact(ComputeRopeInvFreq(config), DType::kF32);
  for (auto [rows, hidden, inter] :
       {std::tuple{1, 4096, 1792}, {3, 256, 688}, {8, 256, 512}, {6, 4096, 256}, {12, 512, 256}}) {
    SCOPED_TRACE(::testing::Message() << rows << " rows of " << hidden);
    const std::vector<float> start = Random(rows * hidden, 3.0f);
    Twin residual = Make(start, {rows, hidden});
    Twin norm_w = Make(Random(hidden, 0.5f), {hidden});
    Twin scratch = Zeros({rows, hidden});
    const RmsNormInput gpu_in{residual.gpu, norm_w.gpu, 1e-5f, scratch.gpu};
    const RmsNormInput cpu_in{residual.cpu, norm_w.cpu, 1e-5f, scratch.cpu};
    Twin normed = Zeros({rows, hidden});
    gpu_->RmsNorm(residual.gpu, norm_w.gpu, 1e-5f, normed.gpu);

    Twin w = Make(Random(2 * inter * hidden, 0.05f), {2 * inter, hidden});
    Twin y = Zeros({rows, 2 * inter});
    Twin y_apart = Zeros({rows, 2 * inter});
    gpu_->RmsNormLinear(gpu_in, w.gpu, Tensor(), y.gpu);
    gpu_->Linear(normed.gpu, w.gpu, Tensor(), y_apart.gpu);
    EXPECT_LE(RelativeDiff(y.gpu, y_apart.gpu), Epsilon());
    cpu_.RmsNormLinear(cpu_in, w.cpu, Tensor(), y.cpu);
    EXPECT_LE(RelativeError(y), 3 * Epsilon());

    Twin gate_up = Zeros({rows, 2 * inter});
    Twin act = Zeros({rows, inter});
    Twin act_apart = Zeros({rows, inter});
    gpu_->RmsNormLinearSiluAndMul(gpu_in, w.gpu, Tensor(), gate_up.gpu, act.gpu);
    gpu_->LinearSiluAndMul(normed.gpu, w.gpu, Tensor(), gate_up.gpu, act_apart.gpu);
    EXPECT_LE(RelativeDiff(act.gpu, act_apart.gpu), 2 * Epsilon());
    cpu_.RmsNormLinearSiluAndMul(cpu_in, w.cpu, Tensor(), gate_up.cpu, act.cpu);
    EXPECT_LE(RelativeError(act), 4 * Epsilon());

    Twin w_qkv = Make(Random(features * hidden, 0.05f), {features, hidden});
    Twin positions = MakeExact(RandomIds(rows, 4096), DType::kI32);
    std::vector<int32_t> slot_order(pool * block_size);
    std::iota(slot_order.begin(), slot_order.end(), 0);
    std::shuffle(slot_order.begin(), slot_order.end(), rng_);
    Twin slots =
        MakeExact(std::vector<int32_t>(slot_order.begin(), slot_order.begin() + rows), DType::kI32);
    Twin qkv = Zeros({rows, heads + 2 * kv_heads, head_dim});
    Twin qkv_apart = Zeros({rows, heads + 2 * kv_heads, head_dim});
    Twin k = Zeros({pool, block_size, kv_heads, head_dim});
    Twin v = Zeros({pool, block_size, kv_heads, head_dim});
    Twin k_apart = Zeros({pool, block_size, kv_heads, head_dim});
    Twin v_apart = Zeros({pool, block_size, kv_heads, head_dim});
    const RopeParams gpu_rope{freq.gpu, head_dim};
    gpu_->RmsNormLinearRopeAndWriteKvCache(gpu_in, w_qkv.gpu, Tensor(), qkv.gpu, heads,
                                           positions.gpu, gpu_rope, slots.gpu,
                                           KvCacheView{k.gpu, v.gpu});
    gpu_->LinearRopeAndWriteKvCache(normed.gpu, w_qkv.gpu, Tensor(), qkv_apart.gpu, heads,
                                    positions.gpu, gpu_rope, slots.gpu,
                                    KvCacheView{k_apart.gpu, v_apart.gpu});
    EXPECT_LE(RelativeDiff(qkv.gpu, qkv_apart.gpu), 2 * Epsilon());
    EXPECT_LE(RelativeDiff(k.gpu, k_apart.gpu), 2 * Epsilon());
    EXPECT_LE(RelativeDiff(v.gpu, v_apart.gpu), Epsilon());
    cpu_.RmsNormLinearRopeAndWriteKvCache(cpu_in, w_qkv.cpu, Tensor(), qkv.cpu, heads,
                                          positions.cpu, RopeParams{freq.cpu, head_dim}, slots.cpu,
                                          KvCacheView{k.cpu, v.cpu});
    EXPECT_LE(RelativeError(qkv), 5 * Epsilon());
    EXPECT_LE(RelativeError(k), 5 * Epsilon());
    EXPECT_LE(RelativeError(v), 3 * Epsilon());

    // The GPU's residual is untouched; the CPU's holds the same start.
    EXPECT_EQ(RelativeError(residual), 0.0);
  }
}

// The tokens Backend::SampleTokens keeps for one row, in id order, each with the
// cumulative mass up to and including it, in double: the CPU reference's arithmetic.
std::vector<std::pair<int32_t, double>> KeptCumulative(const float* x, int vocab, float temperature,
                                                       int top_k, float top_p) {
  std::vector<int32_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int32_t a, int32_t b) { return x[a] > x[b] || (x[a] == x[b] && a < b); });
  const double max_logit = x[order[0]];
  int keep = top_k > 0 ? std::min(top_k, vocab) : vocab;
  std::vector<double> probs(keep);
  double total = 0.0;
  for (int i = 0; i < keep; ++i)
    total += probs[i] = std::exp((x[order[i]] - max_logit) / temperature);
  double mass = 0.0;
  for (int i = 0; i < keep && top_p < 1.0f; ++i) {
    mass += probs[i];
    if (mass >= top_p * total) keep = i + 1;
    if (mass >= top_p * total) break;
  }
  std::vector<std::pair<int32_t, double>> kept;
  for (int i = 0; i < keep; ++i) kept.emplace_back(order[i], probs[i]);
  std::sort(kept.begin(), kept.end());
  for (size_t i = 1; i < kept.size(); ++i) kept[i].second += kept[i - 1].second;
  return kept;
}

// A batch of sequences, each q_len new tokens at the end of kv_len tokens, over blocks
// drawn at random from the pool.
struct Seq {
  int q_len;
  int kv_len;
};

struct AttentionCase {
  int heads;
  int kv_heads;
  int head_dim;
  int block_size;
  std::vector<Seq> seqs;
};

TEST_P(CudaBackendTest, WriteKvCacheAndPagedAttentionMatchCpu) {
  const std::vector<AttentionCase> cases = {
      // decode, GQA 4, the Llama-3-8B head
      {32, 8, 128, 64, {{1, 1}, {1, 77}, {1, 300}, {1, 1500}}},
      // a prefill, a chunked prefill over a cached prefix and a decode in one batch
      {8, 2, 32, 16, {{40, 40}, {13, 100}, {1, 9}}},
      // MHA, head 64, small blocks; a long prefill over many key tiles
      {4, 4, 64, 8, {{130, 130}, {1, 2}}},
      // GQA 8, head 256
      {8, 1, 256, 32, {{5, 70}, {1, 33}}},
      // many short decodes: the split path with few keys per split
      {16, 4, 128, 64, std::vector<Seq>(48, Seq{1, 5})},
      // the serving mix of the Llama-3-8B head: a chunk over a cached prefix, a whole
      // prompt that ends mid-tile, and decodes of several lengths
      {32, 8, 128, 16, {{100, 300}, {37, 37}, {1, 64}, {1, 65}, {1, 1000}}},
      // GQA 8 (a decode's rows fill half a warp's tile); GQA 32 (more than one warp's)
      {64, 8, 128, 32, {{1, 200}, {1, 3}, {20, 50}}},
      {32, 1, 64, 16, {{1, 90}, {3, 40}}},
  };
  for (const AttentionCase& c : cases) {
    const int total_heads = c.heads + 2 * c.kv_heads;
    int total_blocks = 0;
    int tokens = 0;
    int max_q = 0;
    int max_kv = 0;
    for (const Seq& s : c.seqs) {
      total_blocks += (s.kv_len + c.block_size - 1) / c.block_size;
      tokens += s.q_len;
      max_q = std::max(max_q, s.q_len);
      max_kv = std::max(max_kv, s.kv_len);
    }
    const int pool = total_blocks + 3;
    std::vector<int32_t> block_ids(pool);
    std::iota(block_ids.begin(), block_ids.end(), 0);
    std::shuffle(block_ids.begin(), block_ids.end(), rng_);
    std::vector<int32_t> q_indptr{0}, kv_indptr{0}, kv_indices, last_len, slots;
    int next = 0;
    for (const Seq& s : c.seqs) {
      const int blocks = (s.kv_len + c.block_size - 1) / c.block_size;
      for (int b = 0; b < blocks; ++b) kv_indices.push_back(block_ids[next++]);
      for (int p = s.kv_len - s.q_len; p < s.kv_len; ++p) {
        slots.push_back(kv_indices[kv_indptr.back() + p / c.block_size] * c.block_size +
                        p % c.block_size);
      }
      q_indptr.push_back(q_indptr.back() + s.q_len);
      kv_indptr.push_back(static_cast<int32_t>(kv_indices.size()));
      last_len.push_back(s.kv_len - (blocks - 1) * c.block_size);
    }
    const int64_t cache_numel = static_cast<int64_t>(pool) * c.block_size * c.kv_heads * c.head_dim;
    Twin k = Make(Random(cache_numel), {pool, c.block_size, c.kv_heads, c.head_dim});
    Twin v = Make(Random(cache_numel), {pool, c.block_size, c.kv_heads, c.head_dim});
    Twin qkv = Make(Random(static_cast<size_t>(tokens) * total_heads * c.head_dim),
                    {tokens, total_heads, c.head_dim});
    Twin slot_ids = MakeExact(slots, DType::kI32);
    Twin qi = MakeExact(q_indptr, DType::kI32);
    Twin ki = MakeExact(kv_indptr, DType::kI32);
    Twin kx = MakeExact(kv_indices, DType::kI32);
    Twin kl = MakeExact(last_len, DType::kI32);
    auto batch = [&](bool gpu) {
      return AttentionBatch{.num_seqs = static_cast<int>(c.seqs.size()),
                            .q_indptr = gpu ? qi.gpu : qi.cpu,
                            .kv_indptr = gpu ? ki.gpu : ki.cpu,
                            .kv_indices = gpu ? kx.gpu : kx.cpu,
                            .kv_last_block_len = gpu ? kl.gpu : kl.cpu,
                            .host_q_indptr = q_indptr.data(),
                            .host_kv_indptr = kv_indptr.data(),
                            .host_kv_indices = kv_indices.data(),
                            .host_kv_last_block_len = last_len.data(),
                            .max_q_len = max_q,
                            .max_kv_len = max_kv};
    };
    Twin out = Zeros({tokens, c.heads, c.head_dim});
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    // Back to back, as the engine issues them: the attention's prologue overlaps the write.
    cpu_.WriteKvCache(qkv.cpu, c.heads, slot_ids.cpu, KvCacheView{k.cpu, v.cpu});
    cpu_.PagedAttention(qkv.cpu, c.heads, KvCacheView{k.cpu, v.cpu}, batch(false), scale, out.cpu);
    gpu_->WriteKvCache(qkv.gpu, c.heads, slot_ids.gpu, KvCacheView{k.gpu, v.gpu});
    gpu_->PagedAttention(qkv.gpu, c.heads, KvCacheView{k.gpu, v.gpu}, batch(true), scale, out.gpu);
    EXPECT_EQ(RelativeError(k), 0.0);
    EXPECT_EQ(RelativeError(v), 0.0);
    EXPECT_LE(RelativeError(out), 4 * Epsilon())
        << c.heads << "/" << c.kv_heads << " heads of " << c.head_dim << ", block " << c.block_size
        << ", " << c.seqs.size() << " sequences";
  }
}

TEST_P(CudaBackendTest, SampleTokensPicksTheCpuIds) {
  // A few rows spread each row's first pass over several blocks (one row: sixteen);
  // a vocabulary of odd length, or many rows, takes one block per row.
  for (auto [vocab, rows] :
       {std::pair{1000, 12}, {128256, 12}, {128256, 1}, {1003, 3}, {32000, 200}}) {
    std::vector<float> temperature, top_p, uniform;
    std::vector<int32_t> top_k;
    std::uniform_real_distribution<float> u01(0.0f, 1.0f);
    for (int r = 0; r < rows; ++r) {
      // Greedy, temperature alone, top_k, top_p, and both, at several settings.
      temperature.push_back(r % 6 == 0 ? 0.0f : 0.5f + 0.1f * static_cast<float>(r));
      top_k.push_back(r % 3 == 1 ? 1 + r * 7 : 0);
      top_p.push_back(r % 2 == 1 ? 0.5f + 0.04f * static_cast<float>(r) : 1.0f);
      uniform.push_back(u01(rng_));
    }
    // Logits as a language model gives them: a few strong candidates over a flat tail,
    // with the many exact ties that bf16 rounding makes.
    std::vector<float> values = Random(static_cast<size_t>(rows) * vocab, 2.0f);
    for (int r = 0; r < rows; ++r) {
      for (int i = 0; i < 20; ++i)
        values[static_cast<size_t>(r) * vocab + RandomIds(1, vocab)[0]] += 8.0f;
    }
    Twin logits = Make(values, {rows, vocab});
    Twin t = MakeExact(temperature, DType::kF32), k = MakeExact(top_k, DType::kI32),
         p = MakeExact(top_p, DType::kF32), u = MakeExact(uniform, DType::kF32);
    Twin ids = MakeExact(std::vector<int32_t>(rows), DType::kI32);
    Twin logprobs = MakeExact(std::vector<float>(rows), DType::kF32);
    cpu_.SampleTokens(logits.cpu, SamplingBatch{t.cpu, k.cpu, p.cpu, u.cpu}, ids.cpu, logprobs.cpu);
    gpu_->SampleTokens(logits.gpu, SamplingBatch{t.gpu, k.gpu, p.gpu, u.gpu}, ids.gpu,
                       logprobs.gpu);
    std::vector<int32_t> want(rows), got(rows);
    std::vector<float> want_lp(rows), got_lp(rows);
    cpu_.CopyToHost(want.data(), ids.cpu.data, rows * 4);
    gpu_->CopyToHost(got.data(), ids.gpu.data, rows * 4);
    cpu_.CopyToHost(want_lp.data(), logprobs.cpu.data, rows * 4);
    gpu_->CopyToHost(got_lp.data(), logprobs.gpu.data, rows * 4);
    std::vector<float> rounded(values.size());
    cpu_.CopyToHost(rounded.data(), logits.cpu.data, rounded.size() * 4);
    for (int r = 0; r < rows; ++r) {
      SCOPED_TRACE(::testing::Message()
                   << "vocab " << vocab << " row " << r << ": temperature " << temperature[r]
                   << " top_k " << top_k[r] << " top_p " << top_p[r]);
      if (got[r] != want[r]) {
        // The GPU sums the kept mass in fp32, the CPU in double: over a flat tail of
        // 10^5 tokens the running sums may straddle the target differently, by rounding
        // alone. Then the GPU's pick must be a kept token whose (double) cumulative
        // interval holds the target to within 1e-5 of the kept mass.
        ASSERT_GT(temperature[r], 0.0f) << "greedy picks must be identical";
        const auto kept = KeptCumulative(rounded.data() + static_cast<size_t>(r) * vocab, vocab,
                                         temperature[r], top_k[r], top_p[r]);
        const auto it = std::find_if(kept.begin(), kept.end(),
                                     [&](const auto& entry) { return entry.first == got[r]; });
        ASSERT_NE(it, kept.end()) << "the GPU picked " << got[r] << ", which the CPU drops";
        const double total = kept.back().second;
        const double target = uniform[r] * total;
        const double before = it == kept.begin() ? 0.0 : std::prev(it)->second;
        EXPECT_GE(target, before - 1e-5 * total) << "picked " << got[r] << ", want " << want[r];
        EXPECT_LE(target, it->second + 1e-5 * total) << "picked " << got[r] << ", want " << want[r];
        continue;
      }
      EXPECT_NEAR(got_lp[r], want_lp[r], 1e-3);
    }
  }
}

TEST_P(CudaBackendTest, CapturedGraphReplaysOnNewInputs) {
  const int rows = 4;
  const int hidden = 512;
  Twin x = Make(Random(rows * hidden), {rows, hidden});
  Twin w = Make(Random(hidden), {hidden});
  Twin out = Zeros({rows, hidden});
  auto graph = gpu_->Capture([&] { gpu_->RmsNorm(x.gpu, w.gpu, 1e-5f, out.gpu); });
  ASSERT_TRUE(graph.ok()) << graph.status();
  ASSERT_NE(*graph, nullptr);
  // Recording ran nothing: the output is still zero.
  EXPECT_EQ(ReadGpu(out.gpu), std::vector<float>(rows * hidden, 0.0f));
  // New inputs, then a replay.
  Twin fresh = Make(Random(rows * hidden), {rows, hidden});
  std::vector<uint16_t> raw(rows * hidden);
  gpu_->CopyToHost(raw.data(), fresh.gpu.data, raw.size() * 2);
  gpu_->CopyToDevice(x.gpu.data, raw.data(), raw.size() * 2);
  (*graph)->Replay();
  cpu_.RmsNorm(fresh.cpu, w.cpu, 1e-5f, out.cpu);
  EXPECT_LE(RelativeError(out), 2 * Epsilon());
}

// The transfers of async scheduling: from page-locked memory to the device, on the
// device, and back, each waited for by its ticket alone.
TEST_P(CudaBackendTest, QueuedCopiesLandAndAreWaitedForByTicket) {
  constexpr size_t kCount = 1 << 20;
  auto staged = gpu_->AllocateHost(kCount * 4);
  auto landed = gpu_->AllocateHost(kCount * 4);
  auto first = gpu_->Allocate(kCount * 4);
  auto second = gpu_->Allocate(kCount * 4);
  ASSERT_TRUE(staged.ok() && landed.ok() && first.ok() && second.ok());
  auto* in = static_cast<int32_t*>(staged->data());
  auto* out = static_cast<int32_t*>(landed->data());
  std::iota(in, in + kCount, 7);
  gpu_->CopyToDevice(first->data(), in, kCount * 4);
  gpu_->CopyOnDevice(second->data(), first->data(), kCount * 4);
  const int64_t whole = gpu_->CopyToHostAsync(out, second->data(), kCount * 4);
  // A later copy of the first half over the same bytes, then a wait for the earlier.
  const int64_t half = gpu_->CopyToHostAsync(out, first->data(), kCount * 2);
  EXPECT_EQ(half, whole + 1);
  gpu_->WaitForHostCopy(whole);
  gpu_->WaitForHostCopy(half);
  for (size_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(out[i], static_cast<int32_t>(7 + i)) << i;
  }
}

TEST_P(CudaBackendTest, RefusesShapesItsKernelsDoNotTake) {
  EXPECT_TRUE(gpu_->SupportsShape(4096, 128, 8, 14336).ok());
  const absl::Status head = gpu_->SupportsShape(2560, 80, 32, 10240);
  EXPECT_EQ(head.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(head.message().find("head_dim"), std::string::npos) << head;
  const absl::Status inter = gpu_->SupportsShape(4096, 128, 8, 11001);
  EXPECT_EQ(inter.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(inter.message().find("intermediate_size"), std::string::npos) << inter;
}

// CudaBackendOptions::fuse = false (what LOOM_CUDA_FUSE=0 sets) sends the fused ops to
// their two passes: the engine then runs AddRmsNorm's order, and a fused op gives the
// bits the fused kernel gives.
TEST_P(CudaBackendTest, UnfusedBackendRunsTheTwoPasses) {
  auto unfused = CudaBackend::Create({.device = 0, .dtype = dtype(), .fuse = false});
  ASSERT_TRUE(unfused.ok()) << unfused.status();
  EXPECT_FALSE((*unfused)->PrefersNormInLinear(1, 4096));
  const int rows = 2, in = 512, inter = 256;
  Twin x = Make(Random(rows * in), {rows, in});
  Twin w = Make(Random(2 * inter * in, 0.05f), {2 * inter, in});
  Twin gate_up = Zeros({rows, 2 * inter});
  Twin apart = Zeros({rows, inter});
  Twin fused = Zeros({rows, inter});
  gpu_->Synchronize();  // the inputs were copied on gpu_'s stream
  (*unfused)->LinearSiluAndMul(x.gpu, w.gpu, Tensor(), gate_up.gpu, apart.gpu);
  (*unfused)->Synchronize();
  gpu_->LinearSiluAndMul(x.gpu, w.gpu, Tensor(), gate_up.gpu, fused.gpu);
  EXPECT_EQ(ReadGpu(fused.gpu), ReadGpu(apart.gpu));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaBackendTest, ::testing::Values(DType::kBF16, DType::kF16),
                         [](const ::testing::TestParamInfo<DType>& param) {
                           return std::string(param.param == DType::kBF16 ? "bf16" : "fp16");
                         });

}  // namespace
}  // namespace loom
