// Loading whole model directories: random-weight Llama, Mistral and Qwen2 variants
// (biases, untied heads, MQA, explicit head_dim, rope scaling, F16/BF16/F32, sharded)
// checked against a dense float64 forward written independently of the runner, and
// broken directories that must fail with errors naming the file and tensor.
#include "engine/model_loader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <random>

#include "engine/model_runner.h"
#include "engine/rope.h"
#include "kernels/cpu/cpu_backend.h"
#include "tests/engine/model/safetensors_writer.h"
#include "tests/engine/model/scoped_temp_dir.h"
#include "tests/engine/model_test_util.h"

namespace loom {
namespace {

using testing::DecodeFloats;
using testing::TestTensor;

struct Variant {
  std::string name;
  std::string config_json;  // hidden 64, 2 layers, vocab 2048 (the bundled tokenizer's)
  DType dtype;
  bool sharded;
};

// Keeps test listings short: gtest would otherwise print the struct's bytes.
void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

// A dense float64 Llama-family forward over a whole sequence; returns the logits of the
// last position. Reads weights by Hugging Face name from `w`.
class ReferenceModel {
 public:
  ReferenceModel(const ModelConfig& c, std::map<std::string, std::vector<double>> w)
      : c_(c), w_(std::move(w)), inv_freq_(ComputeRopeInvFreq(c)) {}

  std::vector<double> LastLogits(const std::vector<int32_t>& ids) {
    const int T = ids.size(), H = c_.hidden_size, D = c_.head_dim;
    const int nq = c_.num_attention_heads, nkv = c_.num_key_value_heads;
    std::vector<std::vector<double>> x(T);
    for (int t = 0; t < T; ++t) x[t] = Row("model.embed_tokens.weight", ids[t], H);
    for (int l = 0; l < c_.num_hidden_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      std::vector<std::vector<double>> q(T), k(T), v(T);
      for (int t = 0; t < T; ++t) {
        auto h = Norm(x[t], p + "input_layernorm.weight");
        q[t] = Linear(h, p + "self_attn.q_proj", nq * D, c_.qkv_bias);
        k[t] = Linear(h, p + "self_attn.k_proj", nkv * D, c_.qkv_bias);
        v[t] = Linear(h, p + "self_attn.v_proj", nkv * D, c_.qkv_bias);
        Rope(q[t], nq, t);
        Rope(k[t], nkv, t);
      }
      for (int t = 0; t < T; ++t) {
        std::vector<double> attn(nq * D, 0.0);
        for (int h = 0; h < nq; ++h) {
          const int kh = h / (nq / nkv);
          std::vector<double> s(t + 1);
          double mx = -1e300, sum = 0;
          for (int j = 0; j <= t; ++j) {
            double d = 0;
            for (int e = 0; e < D; ++e) d += q[t][h * D + e] * k[j][kh * D + e];
            s[j] = d / std::sqrt(static_cast<double>(D));
            mx = std::max(mx, s[j]);
          }
          for (double& e : s) sum += (e = std::exp(e - mx));
          for (int j = 0; j <= t; ++j) {
            for (int e = 0; e < D; ++e) attn[h * D + e] += s[j] / sum * v[j][kh * D + e];
          }
        }
        auto o = Linear(attn, p + "self_attn.o_proj", H, c_.o_bias);
        for (int i = 0; i < H; ++i) x[t][i] += o[i];
        auto h2 = Norm(x[t], p + "post_attention_layernorm.weight");
        auto g = Linear(h2, p + "mlp.gate_proj", c_.intermediate_size, c_.mlp_bias);
        auto u = Linear(h2, p + "mlp.up_proj", c_.intermediate_size, c_.mlp_bias);
        for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
        auto d = Linear(g, p + "mlp.down_proj", H, c_.mlp_bias);
        for (int i = 0; i < H; ++i) x[t][i] += d[i];
      }
    }
    auto last = Norm(x[T - 1], "model.norm.weight");
    const std::string head =
        c_.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
    std::vector<double> logits(c_.vocab_size);
    for (int n = 0; n < c_.vocab_size; ++n) {
      for (int i = 0; i < H; ++i) logits[n] += last[i] * w_.at(head)[n * H + i];
    }
    return logits;
  }

 private:
  std::vector<double> Row(const std::string& name, int row, int width) {
    const auto& m = w_.at(name);
    return std::vector<double>(m.begin() + row * width, m.begin() + (row + 1) * width);
  }
  std::vector<double> Norm(const std::vector<double>& x, const std::string& weight) {
    double ss = 0;
    for (double e : x) ss += e * e;
    const double inv = 1 / std::sqrt(ss / x.size() + c_.rms_norm_eps);
    std::vector<double> out(x.size());
    for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] * inv * w_.at(weight)[i];
    return out;
  }
  std::vector<double> Linear(const std::vector<double>& x, const std::string& name, int out,
                             bool bias) {
    const auto& m = w_.at(name + ".weight");
    std::vector<double> y(out, 0.0);
    for (int n = 0; n < out; ++n) {
      for (size_t i = 0; i < x.size(); ++i) y[n] += x[i] * m[n * x.size() + i];
      if (bias) y[n] += w_.at(name + ".bias")[n];
    }
    return y;
  }
  void Rope(std::vector<double>& heads, int count, int pos) {
    const int D = c_.head_dim;
    for (int h = 0; h < count; ++h) {
      for (int i = 0; i < D / 2; ++i) {
        const double a = heads[h * D + i], b = heads[h * D + i + D / 2];
        const double angle = pos * static_cast<double>(inv_freq_[i]);
        heads[h * D + i] = a * std::cos(angle) - b * std::sin(angle);
        heads[h * D + i + D / 2] = b * std::cos(angle) + a * std::sin(angle);
      }
    }
  }

  ModelConfig c_;
  std::map<std::string, std::vector<double>> w_;
  std::vector<float> inv_freq_;
};

class ModelLoaderTest : public ::testing::TestWithParam<Variant> {
 protected:
  // Writes config.json, the bundled model's tokenizer files and random weights for the
  // config into dir; returns the weights as the checkpoint stores them.
  std::map<std::string, std::vector<double>> WriteModel(const std::filesystem::path& dir,
                                                        const Variant& v,
                                                        const std::string& skip = "") {
    testing::WriteFile(dir / "config.json", v.config_json);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
      std::filesystem::copy_file(testing::BundledModelDir() / f, dir / f);
    }
    auto config = ParseModelConfig(v.config_json, "config.json");
    EXPECT_TRUE(config.ok()) << config.status();
    const ModelConfig& c = *config;
    const int64_t H = c.hidden_size, D = c.head_dim, I = c.intermediate_size;
    const int64_t q = c.num_attention_heads * D, kv = c.num_key_value_heads * D;
    std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
        {"model.embed_tokens.weight", {c.vocab_size, H}}, {"model.norm.weight", {H}}};
    if (!c.tie_word_embeddings) shapes.push_back({"lm_head.weight", {c.vocab_size, H}});
    for (int l = 0; l < c.num_hidden_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      shapes.push_back({p + "input_layernorm.weight", {H}});
      shapes.push_back({p + "post_attention_layernorm.weight", {H}});
      for (auto [n, rows] : {std::pair{"q_proj", q}, {"k_proj", kv}, {"v_proj", kv}}) {
        shapes.push_back({p + "self_attn." + n + ".weight", {rows, H}});
        if (c.qkv_bias) shapes.push_back({p + "self_attn." + n + ".bias", {rows}});
      }
      shapes.push_back({p + "self_attn.o_proj.weight", {H, q}});
      if (c.o_bias) shapes.push_back({p + "self_attn.o_proj.bias", {H}});
      for (auto [n, rows, cols] :
           {std::tuple{"gate_proj", I, H}, {"up_proj", I, H}, {"down_proj", H, I}}) {
        shapes.push_back({p + "mlp." + n + ".weight", {rows, cols}});
        if (c.mlp_bias) shapes.push_back({p + "mlp." + n + ".bias", {rows}});
      }
    }
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.15f);
    std::map<std::string, std::vector<double>> weights;
    std::vector<std::vector<TestTensor>> shards(v.sharded ? 2 : 1);
    for (size_t i = 0; i < shapes.size(); ++i) {
      const auto& [name, shape] = shapes[i];
      int64_t n = 1;
      for (int64_t d : shape) n *= d;
      std::vector<float> values(n);
      const bool is_norm = name.find("norm") != std::string::npos;
      for (float& x : values) x = is_norm ? 1.0f + normal(rng) : normal(rng);
      TestTensor t = testing::MakeFloatTensor(name, v.dtype, shape, values);
      const auto stored = DecodeFloats(
          v.dtype, std::span(reinterpret_cast<const std::byte*>(t.bytes.data()), t.bytes.size()));
      weights[name] = std::vector<double>(stored.begin(), stored.end());
      if (name != skip) shards[i % shards.size()].push_back(std::move(t));
    }
    if (v.sharded) {
      testing::WriteShardedCheckpoint(dir, shards);
    } else {
      testing::WriteSafetensors(dir / "model.safetensors", shards[0]);
    }
    return weights;
  }
};

TEST_P(ModelLoaderTest, LogitsMatchADenseFloat64Forward) {
  testing::ScopedTempDir dir;
  const Variant& v = GetParam();
  auto weights = WriteModel(dir.path(), v);
  CpuBackend backend;
  auto model =
      LoadModel(dir.path(), &backend,
                EngineOptions{.block_size = 4, .max_batch_size = 1, .max_prefill_tokens = 5});
  ASSERT_TRUE(model.ok()) << model.status();
  ReferenceModel reference(model->config, std::move(weights));

  std::mt19937 rng(3);
  std::uniform_int_distribution<int32_t> token(0, model->config.vocab_size - 1);
  std::vector<int32_t> prompt(11);
  for (auto& id : prompt) id = token(rng);
  BlockPool pool = testing::PoolFor(*model->runner);
  auto trace = testing::RunGreedy(*model->runner, pool, prompt, 3);
  ASSERT_EQ(trace.ids.size(), 3u);
  // Step s saw the prompt plus the first s greedy ids.
  std::vector<int32_t> seq = prompt;
  for (size_t s = 0; s < trace.ids.size(); ++s) {
    const auto ref = reference.LastLogits(seq);
    EXPECT_LE(testing::MaxRelativeError(trace.logits[s], ref), 1e-4) << "step " << s;
    seq.push_back(trace.ids[s]);
  }
}

const char* kQwen2 = R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
  "vocab_size": 2048, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 24,
  "max_position_embeddings": 256, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
  "tie_word_embeddings": false, "torch_dtype": "float16"})";
const char* kLlama = R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 2048,
  "hidden_size": 64, "intermediate_size": 80, "num_hidden_layers": 2,
  "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
  "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "attention_bias": true, "mlp_bias": true,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                   "high_freq_factor": 4.0, "original_max_position_embeddings": 64}})";
const char* kMistral = R"({"architectures": ["MistralForCausalLM"], "vocab_size": 2048,
  "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
  "num_attention_heads": 8, "num_key_value_heads": 8, "max_position_embeddings": 256,
  "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "sliding_window": null,
  "tie_word_embeddings": true, "torch_dtype": "float32",
  "rope_scaling": {"type": "linear", "factor": 2.0}})";

INSTANTIATE_TEST_SUITE_P(
    Families, ModelLoaderTest,
    ::testing::Values(Variant{"Qwen2MqaHeadDimF16Sharded", kQwen2, DType::kF16, true},
                      Variant{"LlamaBiasesLlama3RopeBF16", kLlama, DType::kBF16, false},
                      Variant{"MistralTiedLinearRopeF32", kMistral, DType::kF32, false}),
    [](const ::testing::TestParamInfo<Variant>& p) { return p.param.name; });

TEST_F(ModelLoaderTest, MissingTensorNamesTensorAndFile) {
  testing::ScopedTempDir dir;
  const Variant v{"Qwen2", kQwen2, DType::kF16, false};
  WriteModel(dir.path(), v, "model.layers.1.mlp.up_proj.weight");
  CpuBackend backend;
  auto model = LoadModel(dir.path(), &backend, EngineOptions{});
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("model.layers.1.mlp.up_proj.weight"), std::string::npos)
      << model.status();
  EXPECT_NE(model.status().message().find("model.safetensors"), std::string::npos)
      << model.status();
}

TEST_F(ModelLoaderTest, WrongShapeNamesTensorAndShapes) {
  testing::ScopedTempDir dir;
  std::string config = kQwen2;
  const Variant v{"Qwen2", config, DType::kF16, false};
  WriteModel(dir.path(), v);
  // The same weights under a config that says the FFN is wider.
  config.replace(config.find("\"intermediate_size\": 96"), 23, "\"intermediate_size\": 98");
  testing::WriteFile(dir.path() / "config.json", config);
  CpuBackend backend;
  auto model = LoadModel(dir.path(), &backend, EngineOptions{});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(model.status().message().find("mlp.gate_proj.weight"), std::string::npos)
      << model.status();
  EXPECT_NE(model.status().message().find("[96, 64]"), std::string::npos) << model.status();
}

TEST_F(ModelLoaderTest, SessionLenBeyondTheModelIsRefused) {
  CpuBackend backend;
  auto model = LoadModel(testing::BundledModelDir(), &backend, EngineOptions{.session_len = 4096});
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("session_len"), std::string::npos);
}

}  // namespace
}  // namespace loom
