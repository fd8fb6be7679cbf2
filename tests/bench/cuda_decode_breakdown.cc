// Where a decode step of the Llama-3-8B shape spends its time on the CUDA backend, at
// batch 1, 4 and 256, over a context of 424 tokens (the latency workload's 224 + 200).
// Prints markdown tables for docs/BENCHMARKS.md:
//  - each operation alone: recorded 50 times into a CUDA graph, the graph replayed 5
//    times between synchronizations, so that the time per call excludes launch gaps, as
//    the engine's decode graphs do. Weights rotate among 4 copies so that the matrix
//    products read HBM rather than the 50 MB L2;
//  - the whole step: the operations of ModelRunner::RunLayers in its order over 32
//    layers of distinct weights (and in its other order, where both can run, and with
//    the attention's combine releasing the next kernel late), recorded into one graph
//    (what the engine replays), and
//    that graph driven as the engine drives it: the index upload, the replay, the
//    sampling and the copy back of the ids, from pageable or from pinned host memory.
// Inputs are random, never zeros. Run by hand on a GPU: not a test.
#include <cuda_runtime_api.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/launch.h"

namespace loom {
namespace {

constexpr int kHidden = 4096;
constexpr int kHeads = 32;
constexpr int kKvHeads = 8;
constexpr int kHeadDim = 128;
constexpr int kInter = 14336;
constexpr int kVocab = 128256;
constexpr int kLayers = 32;
constexpr int kContext = 424;
constexpr int kBlockSize = 64;
constexpr int kCopies = 4;
constexpr int kCallsPerGraph = 50;
constexpr int kReplays = 5;
constexpr int kStepReplays = 20;

class Bench {
 public:
  explicit Bench(CudaBackend& gpu) : gpu_(gpu) {
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 0.05f);
    noise_.resize(16 << 20);
    for (auto& x : noise_) x = FloatToBF16(dist(rng));
  }

  // A bf16 tensor of random values.
  Tensor Random(std::initializer_list<int64_t> dims) {
    Tensor t = Alloc(DType::kBF16, dims);
    const size_t bytes = t.nbytes();
    for (size_t done = 0; done < bytes;) {
      const size_t n = std::min(bytes - done, noise_.size() * 2);
      gpu_.CopyToDevice(static_cast<char*>(t.data) + done, noise_.data(), n);
      done += n;
    }
    return t;
  }
  Tensor Alloc(DType dtype, std::initializer_list<int64_t> dims) {
    Tensor t(nullptr, dtype, dims);
    auto buffer = gpu_.Allocate(t.nbytes());
    LOOM_CHECK(buffer.ok()) << buffer.status();
    t.data = buffer->data();
    buffers_.push_back(*std::move(buffer));
    return t;
  }
  Tensor I32(const std::vector<int32_t>& values) {
    Tensor t = Alloc(DType::kI32, {static_cast<int64_t>(values.size())});
    gpu_.CopyToDevice(t.data, values.data(), values.size() * 4);
    return t;
  }

  // Microseconds per call of `op(i)`, i the call's index.
  double Time(const std::function<void(int)>& op) {
    auto graph = gpu_.Capture([&] {
      for (int i = 0; i < kCallsPerGraph; ++i) op(i);
    });
    LOOM_CHECK(graph.ok() && *graph != nullptr) << graph.status();
    (*graph)->Replay();
    gpu_.Synchronize();
    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < kReplays; ++r) (*graph)->Replay();
    gpu_.Synchronize();
    const std::chrono::duration<double, std::micro> elapsed =
        std::chrono::steady_clock::now() - start;
    return elapsed.count() / (kReplays * kCallsPerGraph);
  }

  // Microseconds per call of `step()`, called kStepReplays times after one warm-up call,
  // without a synchronization between calls unless `step` has one.
  double TimeSteps(const std::function<void()>& step) {
    step();
    gpu_.Synchronize();
    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < kStepReplays; ++r) step();
    gpu_.Synchronize();
    const std::chrono::duration<double, std::micro> elapsed =
        std::chrono::steady_clock::now() - start;
    return elapsed.count() / kStepReplays;
  }

 private:
  CudaBackend& gpu_;
  std::vector<uint16_t> noise_;
  std::vector<DeviceBuffer> buffers_;
};

// The weights of a whole model of the shape: 32 layers, each its own.
struct ModelWeightsOnDevice {
  struct Layer {
    Tensor input_norm, qkv, o, post_norm, gate_up, down;
  };
  std::vector<Layer> layers;
  Tensor final_norm, lm_head, embed;

  explicit ModelWeightsOnDevice(Bench& b) {
    for (int l = 0; l < kLayers; ++l) {
      layers.push_back({b.Random({kHidden}),
                        b.Random({(kHeads + 2 * kKvHeads) * kHeadDim, kHidden}),
                        b.Random({kHidden, kHeads * kHeadDim}), b.Random({kHidden}),
                        b.Random({2 * kInter, kHidden}), b.Random({kHidden, kInter})});
    }
    final_norm = b.Random({kHidden});
    lm_head = b.Random({kVocab, kHidden});
    embed = b.Random({kVocab, kHidden});
  }
};

// Microseconds of one decode step, whole (see the file comment).
struct StepTimes {
  bool norm_in_linear = false;     // the order of the graphs below (PrefersNormInLinear)
  double graph = 0.0;              // the layers' graph, replayed back to back
  double graph_add_rms_norm = 0;   // where norm_in_linear, the same in AddRmsNorm's order
  double graph_combine_waits = 0;  // the graph with SetCombineReleasesEarly(false)
  double graph_sampled = 0.0;      // the same graph with the sampling recorded in it
  double pageable = 0.0;           // upload, replay, sampling, copy back: pageable host memory
  double pinned = 0.0;             // the same from pinned host memory
};

struct Row {
  std::string op;
  std::string shape;
  double us;
  int per_step;
  double bytes;  // read + written per call, the floor's count
};

StepTimes RunBatch(CudaBackend& gpu, Bench& b, const ModelWeightsOnDevice& model, int batch,
                   std::vector<Row>& rows) {
  const int64_t n = batch;
  std::vector<Tensor> qkv_w, o_w, gate_up_w, down_w;
  for (int c = 0; c < kCopies; ++c) {
    qkv_w.push_back(b.Random({(kHeads + 2 * kKvHeads) * kHeadDim, kHidden}));
    o_w.push_back(b.Random({kHidden, kHeads * kHeadDim}));
    gate_up_w.push_back(b.Random({2 * kInter, kHidden}));
    down_w.push_back(b.Random({kHidden, kInter}));
  }
  Tensor lm_head = b.Random({kVocab, kHidden});
  Tensor norm_w = b.Random({kHidden});
  Tensor x = b.Random({n, kHidden});
  Tensor residual = b.Random({n, kHidden});
  Tensor qkv = b.Random({n, kHeads + 2 * kKvHeads, kHeadDim});
  Tensor attn = b.Random({n, kHeads, kHeadDim});
  Tensor gate_up = b.Random({n, 2 * kInter});
  Tensor act = b.Random({n, kInter});
  Tensor logits = b.Random({n, kVocab});

  const int blocks_per_seq = (kContext + kBlockSize - 1) / kBlockSize;
  const int64_t num_blocks = n * blocks_per_seq;
  KvCacheView cache{b.Random({num_blocks, kBlockSize, kKvHeads, kHeadDim}),
                    b.Random({num_blocks, kBlockSize, kKvHeads, kHeadDim})};
  std::vector<int32_t> q_indptr{0}, kv_indptr{0}, kv_indices, last_len, positions, slots;
  for (int s = 0; s < batch; ++s) {
    for (int k = 0; k < blocks_per_seq; ++k) kv_indices.push_back(s * blocks_per_seq + k);
    q_indptr.push_back(s + 1);
    kv_indptr.push_back(static_cast<int32_t>(kv_indices.size()));
    last_len.push_back(kContext - (blocks_per_seq - 1) * kBlockSize);
    positions.push_back(kContext - 1);
    slots.push_back((s * blocks_per_seq + blocks_per_seq - 1) * kBlockSize + last_len.back() - 1);
  }
  AttentionBatch attention{.num_seqs = batch,
                           .q_indptr = b.I32(q_indptr),
                           .kv_indptr = b.I32(kv_indptr),
                           .kv_indices = b.I32(kv_indices),
                           .kv_last_block_len = b.I32(last_len),
                           .max_q_len = 1,
                           .max_kv_len = 8192};
  Tensor pos = b.I32(positions);
  Tensor slot = b.I32(slots);
  std::vector<float> inv(kHeadDim / 2);
  for (int i = 0; i < kHeadDim / 2; ++i) inv[i] = std::pow(500000.0f, -2.0f * i / kHeadDim);
  Tensor inv_freq = b.Alloc(DType::kF32, {kHeadDim / 2});
  gpu.CopyToDevice(inv_freq.data, inv.data(), inv.size() * 4);
  Tensor ids = b.I32(std::vector<int32_t>(batch, 7));
  std::vector<float> zeros(batch, 0.0f);
  Tensor temperature = b.Alloc(DType::kF32, {n});
  gpu.CopyToDevice(temperature.data, zeros.data(), batch * 4);
  Tensor top_k = b.I32(std::vector<int32_t>(batch, 0));
  Tensor top_p = b.Alloc(DType::kF32, {n});
  Tensor uniform = b.Alloc(DType::kF32, {n});
  Tensor sampled = b.Alloc(DType::kI32, {n});
  Tensor logprobs = b.Alloc(DType::kF32, {n});
  Tensor table = b.Random({kVocab, kHidden});

  // Up to kMaxGemvRows rows the step runs the fused kernels, past them the two passes;
  // with few rows the norms go into the matrix products too (PrefersNormInLinear).
  const bool fused = batch <= cuda::kMaxGemvRows;
  const bool norm_in_linear = gpu.PrefersNormInLinear(n, kHidden);
  const int unfused_norm_calls = norm_in_linear ? 0 : kLayers;
  const std::string bs = "batch " + std::to_string(batch);
  const double act_bytes = 2.0 * n * kHidden;
  auto linear = [&](const std::string& name, std::vector<Tensor>& w, Tensor in, Tensor out,
                    int per_step = kLayers) {
    const double bytes = 2.0 * w[0].numel() + 2.0 * in.numel() + 2.0 * out.numel();
    rows.push_back(
        {name, bs + ", " + std::to_string(w[0].dim(0)) + "x" + std::to_string(w[0].dim(1)),
         b.Time([&](int i) { gpu.Linear(in, w[i % kCopies], Tensor(), out); }), per_step, bytes});
  };
  rows.push_back({"embedding", bs, b.Time([&](int) { gpu.Embedding(table, ids, residual); }), 1,
                  2 * act_bytes});
  rows.push_back({"add_rms_norm", bs,
                  b.Time([&](int) { gpu.AddRmsNorm(x, residual, norm_w, 1e-5f); }),
                  norm_in_linear ? 0 : 2 * kLayers + 1, 4 * act_bytes});
  linear("linear qkv", qkv_w, x, qkv.Reshape({n, (kHeads + 2 * kKvHeads) * kHeadDim}),
         fused ? 0 : kLayers);
  rows.push_back(
      {"rope_and_write_kv_cache", bs, b.Time([&](int) {
         gpu.RopeAndWriteKvCache(qkv, kHeads, pos, RopeParams{inv_freq, kHeadDim}, slot, cache);
       }),
       fused ? 0 : kLayers,
       2.0 * 2 * n * (kHeads + kKvHeads) * kHeadDim + 2.0 * 2 * n * kKvHeads * kHeadDim});
  rows.push_back({"linear_rope_and_write_kv_cache (qkv fused)", bs + ", 6144x4096",
                  b.Time([&](int i) {
                    gpu.LinearRopeAndWriteKvCache(x, qkv_w[i % kCopies], Tensor(), qkv, kHeads, pos,
                                                  RopeParams{inv_freq, kHeadDim}, slot, cache);
                  }),
                  fused ? unfused_norm_calls : 0,
                  2.0 * qkv_w[0].numel() + 2.0 * x.numel() + 2.0 * qkv.numel()});
  const RmsNormInput normed{residual, norm_w, 1e-5f, x};
  rows.push_back(
      {"rms_norm_linear_rope_and_write_kv_cache (qkv, norm fused)", bs + ", 6144x4096",
       b.Time([&](int i) {
         gpu.RmsNormLinearRopeAndWriteKvCache(normed, qkv_w[i % kCopies], Tensor(), qkv, kHeads,
                                              pos, RopeParams{inv_freq, kHeadDim}, slot, cache);
       }),
       norm_in_linear ? kLayers : 0, 2.0 * qkv_w[0].numel() + 2.0 * x.numel() + 2.0 * qkv.numel()});
  rows.push_back({"paged_attention", bs + ", context " + std::to_string(kContext), b.Time([&](int) {
                    gpu.PagedAttention(qkv, kHeads, cache, attention, 0.088f, attn);
                  }),
                  kLayers, 2.0 * 2 * n * kContext * kKvHeads * kHeadDim});
  linear("linear o_proj", o_w, attn.Reshape({n, kHeads * kHeadDim}), x, unfused_norm_calls);
  auto add_to_residual = [&](const std::string& name, std::vector<Tensor>& w, Tensor in) {
    const double bytes = 2.0 * w[0].numel() + 2.0 * in.numel() + 4.0 * residual.numel();
    rows.push_back(
        {name, bs + ", " + std::to_string(w[0].dim(0)) + "x" + std::to_string(w[0].dim(1)),
         b.Time([&](int i) { gpu.LinearAddToResidual(in, w[i % kCopies], Tensor(), x, residual); }),
         norm_in_linear ? kLayers : 0, bytes});
  };
  add_to_residual("linear_add_to_residual (o_proj)", o_w, attn.Reshape({n, kHeads * kHeadDim}));
  linear("linear gate_up", gate_up_w, x, gate_up, fused ? 0 : kLayers);
  rows.push_back({"silu_and_mul", bs, b.Time([&](int) { gpu.SiluAndMul(gate_up, act); }),
                  fused ? 0 : kLayers, 2.0 * 3 * n * kInter});
  rows.push_back({"linear_silu_and_mul (gate_up fused)",
                  bs + ", " + std::to_string(2 * kInter) + "x" + std::to_string(kHidden),
                  b.Time([&](int i) {
                    gpu.LinearSiluAndMul(x, gate_up_w[i % kCopies], Tensor(), gate_up, act);
                  }),
                  fused ? unfused_norm_calls : 0,
                  2.0 * gate_up_w[0].numel() + 2.0 * x.numel() + 2.0 * act.numel()});
  rows.push_back(
      {"rms_norm_linear_silu_and_mul (gate_up, norm fused)",
       bs + ", " + std::to_string(2 * kInter) + "x" + std::to_string(kHidden), b.Time([&](int i) {
         gpu.RmsNormLinearSiluAndMul(normed, gate_up_w[i % kCopies], Tensor(), gate_up, act);
       }),
       norm_in_linear ? kLayers : 0,
       2.0 * gate_up_w[0].numel() + 2.0 * x.numel() + 2.0 * act.numel()});
  linear("linear down", down_w, act, x, unfused_norm_calls);
  add_to_residual("linear_add_to_residual (down)", down_w, act);
  rows.push_back({"linear lm_head", bs + ", 128256x4096",
                  b.Time([&](int) { gpu.Linear(x, lm_head, Tensor(), logits); }),
                  norm_in_linear ? 0 : 1, 2.0 * lm_head.numel() + 2.0 * logits.numel()});
  rows.push_back({"rms_norm_linear (lm_head, norm fused)", bs + ", 128256x4096",
                  b.Time([&](int) { gpu.RmsNormLinear(normed, lm_head, Tensor(), logits); }),
                  norm_in_linear ? 1 : 0, 2.0 * lm_head.numel() + 2.0 * logits.numel()});
  rows.push_back({"sample (greedy)", bs, b.Time([&](int) {
                    gpu.SampleTokens(logits, SamplingBatch{temperature, top_k, top_p, uniform},
                                     sampled, logprobs);
                  }),
                  1, 2.0 * logits.numel()});
  // The split count follows max_kv_len: a graph sizes it for the longest sequence.
  AttentionBatch exact = attention;
  exact.max_kv_len = kContext;
  rows.push_back({"paged_attention, max_kv_len = context", bs,
                  b.Time([&](int) { gpu.PagedAttention(qkv, kHeads, cache, exact, 0.088f, attn); }),
                  0, 2.0 * 2 * n * kContext * kKvHeads * kHeadDim});

  // The whole step, in ModelRunner::RunLayers' order.
  std::vector<KvCacheView> caches;
  for (int l = 0; l < kLayers; ++l) {
    caches.push_back({b.Random({num_blocks, kBlockSize, kKvHeads, kHeadDim}),
                      b.Random({num_blocks, kBlockSize, kKvHeads, kHeadDim})});
  }
  std::vector<int32_t> row_ids(batch);
  for (int s = 0; s < batch; ++s) row_ids[s] = s;
  Tensor logit_rows = b.I32(row_ids);
  Tensor last_rows = b.Random({n, kHidden});
  const float eps = 1e-5f;
  const RopeParams rope{inv_freq, kHeadDim};
  // The order ModelRunner::RunLayers picks; the other one too where both can run.
  auto layers_norm_in_linear = [&] {
    gpu.Embedding(model.embed, ids, residual);
    for (int l = 0; l < kLayers; ++l) {
      const ModelWeightsOnDevice::Layer& w = model.layers[l];
      gpu.RmsNormLinearRopeAndWriteKvCache({residual, w.input_norm, eps, x}, w.qkv, Tensor(), qkv,
                                           kHeads, pos, rope, slot, caches[l]);
      gpu.PagedAttention(qkv, kHeads, caches[l], attention, 0.088f, attn);
      gpu.LinearAddToResidual(attn.Reshape({n, kHeads * kHeadDim}), w.o, Tensor(), x, residual);
      gpu.RmsNormLinearSiluAndMul({residual, w.post_norm, eps, x}, w.gate_up, Tensor(), gate_up,
                                  act);
      gpu.LinearAddToResidual(act, w.down, Tensor(), x, residual);
    }
    gpu.Embedding(residual, logit_rows, last_rows);
    gpu.RmsNormLinear({last_rows, model.final_norm, eps, x}, model.lm_head, Tensor(), logits);
  };
  auto layers_add_rms_norm = [&] {
    gpu.Embedding(model.embed, ids, residual);
    gpu.RmsNorm(residual, model.layers[0].input_norm, eps, x);
    for (int l = 0; l < kLayers; ++l) {
      const ModelWeightsOnDevice::Layer& w = model.layers[l];
      if (l > 0) gpu.AddRmsNorm(x, residual, w.input_norm, eps);
      gpu.LinearRopeAndWriteKvCache(x, w.qkv, Tensor(), qkv, kHeads, pos, rope, slot, caches[l]);
      gpu.PagedAttention(qkv, kHeads, caches[l], attention, 0.088f, attn);
      gpu.Linear(attn.Reshape({n, kHeads * kHeadDim}), w.o, Tensor(), x);
      gpu.AddRmsNorm(x, residual, w.post_norm, eps);
      gpu.LinearSiluAndMul(x, w.gate_up, Tensor(), gate_up, act);
      gpu.Linear(act, w.down, Tensor(), x);
    }
    gpu.AddRmsNorm(x, residual, model.final_norm, eps);
    gpu.Embedding(x, logit_rows, last_rows);
    gpu.Linear(last_rows, model.lm_head, Tensor(), logits);
  };
  auto sample = [&] {
    gpu.SampleTokens(logits, SamplingBatch{temperature, top_k, top_p, uniform}, sampled, logprobs);
  };
  const std::function<void()> layers =
      norm_in_linear ? std::function<void()>(layers_norm_in_linear) : layers_add_rms_norm;
  auto graph = gpu.Capture(layers);
  auto graph_sampled = gpu.Capture([&] {
    layers();
    sample();
  });
  LOOM_CHECK(graph.ok() && *graph != nullptr && graph_sampled.ok() && *graph_sampled != nullptr);
  StepTimes t;
  t.norm_in_linear = norm_in_linear;
  t.graph = b.TimeSteps([&] { (*graph)->Replay(); });
  if (norm_in_linear) {
    auto other = gpu.Capture(layers_add_rms_norm);
    LOOM_CHECK(other.ok() && *other != nullptr);
    t.graph_add_rms_norm = b.TimeSteps([&] { (*other)->Replay(); });
  }
  cuda::SetCombineReleasesEarly(false);
  auto combine_waits = gpu.Capture(layers);
  cuda::SetCombineReleasesEarly(true);
  LOOM_CHECK(combine_waits.ok() && *combine_waits != nullptr);
  t.graph_combine_waits = b.TimeSteps([&] { (*combine_waits)->Replay(); });
  t.graph_sampled = b.TimeSteps([&] { (*graph_sampled)->Replay(); });
  // The engine's upload: the packed index arrays of a step of up to 2048 tokens.
  const size_t upload_bytes = (3 * 2048 + 10 * 256 + kv_indices.size()) * 4;
  Tensor upload = b.Alloc(DType::kI32, {static_cast<int64_t>(upload_bytes / 4)});
  auto engine_step = [&](void* host_in, void* host_out) {
    gpu.CopyToDevice(upload.data, host_in, upload_bytes);
    (*graph)->Replay();
    sample();
    gpu.CopyToHost(host_out, sampled.data, 4 * n);
  };
  std::vector<int32_t> pageable_in(upload_bytes / 4), pageable_out(2 * n);
  t.pageable = b.TimeSteps([&] { engine_step(pageable_in.data(), pageable_out.data()); });
  void* pinned_in = nullptr;
  void* pinned_out = nullptr;
  LOOM_CHECK(cudaMallocHost(&pinned_in, upload_bytes) == cudaSuccess &&
             cudaMallocHost(&pinned_out, 2 * 4 * n) == cudaSuccess);
  t.pinned = b.TimeSteps([&] { engine_step(pinned_in, pinned_out); });
  cudaFreeHost(pinned_in);
  cudaFreeHost(pinned_out);
  return t;
}

}  // namespace
}  // namespace loom

int main() {
  using namespace loom;
  // With the norms in the linear ops where they fit, so that both orders are timed.
  auto gpu = CudaBackend::Create({.device = 0, .dtype = DType::kBF16, .norm_in_linear = true});
  if (!gpu.ok()) {
    std::fprintf(stderr, "cuda_decode_breakdown: %s\n",
                 std::string(gpu.status().message()).c_str());
    return 1;
  }
  Bench bench(**gpu);
  const ModelWeightsOnDevice model(bench);
  for (int batch : {1, 4, 256}) {
    std::vector<Row> rows;
    const StepTimes step = RunBatch(**gpu, bench, model, batch, rows);
    double total_us = 0.0;
    std::printf("\n| op (batch %d) | shape | us per call | calls per step | ms per step | GB/s |\n",
                batch);
    std::printf("|---|---|---|---|---|---|\n");
    for (const Row& r : rows) {
      const double ms = r.us * r.per_step / 1000.0;
      total_us += r.us * r.per_step;
      std::printf("| %s | %s | %.2f | %d | %.3f | %.0f |\n", r.op.c_str(), r.shape.c_str(), r.us,
                  r.per_step, ms, r.bytes / (r.us * 1e3));
    }
    std::printf("| **sum** | | | | **%.3f** | |\n", total_us / 1000.0);
    std::printf("\n| whole step (batch %d) | ms |\n|---|---|\n", batch);
    std::printf("| the layers' graph, back to back (%s) | %.3f |\n",
                step.norm_in_linear ? "norms in the linear ops" : "AddRmsNorm order",
                step.graph / 1000.0);
    if (step.norm_in_linear) {
      std::printf("| the same in AddRmsNorm order | %.3f |\n", step.graph_add_rms_norm / 1000.0);
    }
    std::printf(
        "| the same with the attention's combine releasing the next kernel after its "
        "wait | %.3f |\n",
        step.graph_combine_waits / 1000.0);
    std::printf("| the graph with the sampling in it | %.3f |\n", step.graph_sampled / 1000.0);
    std::printf("| upload, graph, sampling, copy back (pageable) | %.3f |\n",
                step.pageable / 1000.0);
    std::printf("| the same from pinned memory | %.3f |\n", step.pinned / 1000.0);
  }
  return 0;
}
