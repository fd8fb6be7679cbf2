// The CPU backend is the oracle for every other backend, so its own tests compare each
// operation with an independent, straightforward formula evaluated in double.
#include "kernels/cpu/cpu_backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace loom {
namespace {

class CpuBackendTest : public ::testing::Test {
 protected:
  // A device tensor filled with `values`.
  Tensor Make(const std::vector<float>& values, std::initializer_list<int64_t> dims) {
    auto buffer = backend_.Allocate(values.size() * sizeof(float));
    EXPECT_TRUE(buffer.ok());
    Tensor t(buffer->data(), DType::kF32, dims);
    EXPECT_EQ(t.numel(), static_cast<int64_t>(values.size()));
    backend_.CopyToDevice(t.data, values.data(), t.nbytes());
    buffers_.push_back(*std::move(buffer));
    return t;
  }
  Tensor MakeI32(const std::vector<int32_t>& values) {
    auto buffer = backend_.Allocate(values.size() * sizeof(int32_t));
    EXPECT_TRUE(buffer.ok());
    Tensor t(buffer->data(), DType::kI32, {static_cast<int64_t>(values.size())});
    backend_.CopyToDevice(t.data, values.data(), t.nbytes());
    buffers_.push_back(*std::move(buffer));
    return t;
  }
  std::vector<float> Read(const Tensor& t) {
    std::vector<float> out(t.numel());
    backend_.CopyToHost(out.data(), t.data, t.nbytes());
    return out;
  }
  std::vector<float> Random(size_t n, float scale = 1.0f) {
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng_);
    return v;
  }

  CpuBackend backend_;
  std::vector<DeviceBuffer> buffers_;
  std::mt19937 rng_{1234};
};

TEST_F(CpuBackendTest, LinearMatchesDoubleReference) {
  for (auto [rows, in, out] : {std::tuple{1, 7, 5}, {3, 64, 33}, {17, 256, 70}}) {
    auto x = Random(rows * in);
    auto w = Random(out * in);
    auto b = Random(out);
    Tensor y = Make(std::vector<float>(rows * out), {rows, out});
    backend_.Linear(Make(x, {rows, in}), Make(w, {out, in}), Make(b, {out}), y);
    auto got = Read(y);
    for (int r = 0; r < rows; ++r) {
      for (int n = 0; n < out; ++n) {
        double ref = b[n];
        for (int k = 0; k < in; ++k) ref += static_cast<double>(x[r * in + k]) * w[n * in + k];
        EXPECT_NEAR(got[r * out + n], ref, 1e-4 * (1 + std::abs(ref))) << r << "," << n;
      }
    }
  }
}

TEST_F(CpuBackendTest, LinearRowResultDoesNotDependOnBatch) {
  const int in = 96, out = 40;
  auto x = Random(5 * in);
  Tensor w = Make(Random(out * in), {out, in});
  Tensor all = Make(std::vector<float>(5 * out), {5, out});
  Tensor one = Make(std::vector<float>(out), {1, out});
  backend_.Linear(Make(x, {5, in}), w, Tensor(), all);
  backend_.Linear(Make(std::vector<float>(x.begin() + 3 * in, x.begin() + 4 * in), {1, in}), w,
                  Tensor(), one);
  auto a = Read(all);
  auto o = Read(one);
  for (int n = 0; n < out; ++n) EXPECT_EQ(a[3 * out + n], o[n]);
}

TEST_F(CpuBackendTest, AddRmsNormUpdatesResidualAndNormalizes) {
  const int rows = 3, hidden = 48;
  auto x = Random(rows * hidden);
  auto r = Random(rows * hidden);
  auto w = Random(hidden);
  Tensor tx = Make(x, {rows, hidden});
  Tensor tr = Make(r, {rows, hidden});
  backend_.AddRmsNorm(tx, tr, Make(w, {hidden}), 1e-5f);
  auto got_x = Read(tx);
  auto got_r = Read(tr);
  for (int i = 0; i < rows; ++i) {
    double ss = 0;
    for (int j = 0; j < hidden; ++j) {
      const double s = static_cast<double>(x[i * hidden + j]) + r[i * hidden + j];
      EXPECT_NEAR(got_r[i * hidden + j], s, 1e-6);
      ss += s * s;
    }
    const double inv = 1.0 / std::sqrt(ss / hidden + 1e-5);
    for (int j = 0; j < hidden; ++j) {
      const double s = static_cast<double>(x[i * hidden + j]) + r[i * hidden + j];
      EXPECT_NEAR(got_x[i * hidden + j], w[j] * s * inv, 1e-5);
    }
  }
}

TEST_F(CpuBackendTest, LinearAddToResidualAddsTheProduct) {
  const int rows = 3, in = 40, out = 24;
  auto x = Random(rows * in);
  auto w = Random(out * in);
  auto b = Random(out);
  auto r = Random(rows * out);
  Tensor residual = Make(r, {rows, out});
  Tensor product = Make(std::vector<float>(rows * out), {rows, out});
  backend_.LinearAddToResidual(Make(x, {rows, in}), Make(w, {out, in}), Make(b, {out}), product,
                               residual);
  auto got = Read(residual);
  for (int i = 0; i < rows; ++i) {
    for (int n = 0; n < out; ++n) {
      double ref = static_cast<double>(r[i * out + n]) + b[n];
      for (int k = 0; k < in; ++k) ref += static_cast<double>(x[i * in + k]) * w[n * in + k];
      EXPECT_NEAR(got[i * out + n], ref, 1e-4 * (1 + std::abs(ref))) << i << "," << n;
    }
  }
}

// The norm handed to the linear ops: the default order (RmsNorm into the scratch rows,
// then the op) leaves the residual as it was and gives what the two calls give.
TEST_F(CpuBackendTest, RmsNormLinearOpsNormalizeThenMultiply) {
  const int rows = 2, hidden = 32, out = 16;
  auto r = Random(rows * hidden, 3.0f);
  Tensor residual = Make(r, {rows, hidden});
  Tensor norm_w = Make(Random(hidden), {hidden});
  Tensor scratch = Make(std::vector<float>(rows * hidden), {rows, hidden});
  Tensor w = Make(Random(2 * out * hidden), {2 * out, hidden});
  const RmsNormInput in{residual, norm_w, 1e-5f, scratch};

  Tensor normed = Make(std::vector<float>(rows * hidden), {rows, hidden});
  backend_.RmsNorm(residual, norm_w, 1e-5f, normed);
  Tensor want = Make(std::vector<float>(rows * 2 * out), {rows, 2 * out});
  backend_.Linear(normed, w, Tensor(), want);
  Tensor got = Make(std::vector<float>(rows * 2 * out), {rows, 2 * out});
  backend_.RmsNormLinear(in, w, Tensor(), got);
  EXPECT_EQ(Read(got), Read(want));

  Tensor want_act = Make(std::vector<float>(rows * out), {rows, out});
  backend_.SiluAndMul(want, want_act);
  Tensor gate_up = Make(std::vector<float>(rows * 2 * out), {rows, 2 * out});
  Tensor act = Make(std::vector<float>(rows * out), {rows, out});
  backend_.RmsNormLinearSiluAndMul(in, w, Tensor(), gate_up, act);
  EXPECT_EQ(Read(act), Read(want_act));
  EXPECT_EQ(Read(residual), r);
}

TEST_F(CpuBackendTest, SiluAndMul) {
  auto x = Random(2 * 2 * 10);
  Tensor out = Make(std::vector<float>(2 * 10), {2, 10});
  backend_.SiluAndMul(Make(x, {2, 20}), out);
  auto got = Read(out);
  for (int t = 0; t < 2; ++t) {
    for (int i = 0; i < 10; ++i) {
      const double g = x[t * 20 + i];
      const double u = x[t * 20 + 10 + i];
      EXPECT_NEAR(got[t * 10 + i], g / (1 + std::exp(-g)) * u, 1e-6);
    }
  }
}

TEST_F(CpuBackendTest, EmbeddingGathersRows) {
  auto table = Random(6 * 4);
  Tensor out = Make(std::vector<float>(3 * 4), {3, 4});
  backend_.Embedding(Make(table, {6, 4}), MakeI32({5, 0, 5}), out);
  auto got = Read(out);
  for (int j = 0; j < 4; ++j) {
    EXPECT_EQ(got[j], table[5 * 4 + j]);
    EXPECT_EQ(got[4 + j], table[j]);
    EXPECT_EQ(got[8 + j], table[5 * 4 + j]);
  }
}

TEST_F(CpuBackendTest, RopeRotatesHalvesOfQueryAndKeyHeadsOnly) {
  const int heads = 2, kv_heads = 1, dim = 8;
  const int total = heads + 2 * kv_heads;
  auto qkv = Random(2 * total * dim);
  std::vector<float> inv_freq = {1.0f, 0.1f, 0.01f, 0.001f};
  Tensor t = Make(qkv, {2, total, dim});
  backend_.Rope(t, heads, MakeI32({0, 7}),
                RopeParams{.inv_freq = Make(inv_freq, {4}), .rotary_dim = dim});
  auto got = Read(t);
  for (int tok = 0; tok < 2; ++tok) {
    const int pos = tok == 0 ? 0 : 7;
    for (int h = 0; h < total; ++h) {
      const float* src = &qkv[(tok * total + h) * dim];
      const float* dst = &got[(tok * total + h) * dim];
      for (int i = 0; i < dim / 2; ++i) {
        if (h >= heads + kv_heads) {  // value heads are untouched
          EXPECT_EQ(dst[i], src[i]);
          continue;
        }
        const double c = std::cos(pos * static_cast<double>(inv_freq[i]));
        const double s = std::sin(pos * static_cast<double>(inv_freq[i]));
        EXPECT_NEAR(dst[i], src[i] * c - src[i + dim / 2] * s, 1e-6);
        EXPECT_NEAR(dst[i + dim / 2], src[i + dim / 2] * c + src[i] * s, 1e-6);
      }
    }
  }
}

// Two sequences with scattered blocks, one decoding (1 query over 5 cached tokens) and
// one prefilling a chunk (3 queries, 2 tokens already cached), against dense causal
// attention computed in double.
TEST_F(CpuBackendTest, PagedAttentionMatchesDenseCausalAttention) {
  const int heads = 4, kv_heads = 2, dim = 8, block = 2, num_blocks = 8;
  const int total = heads + 2 * kv_heads;
  // Sequence 0: kv_len 5 in blocks {6, 1, 3}; sequence 1: kv_len 5 in blocks {0, 7, 4}.
  const std::vector<std::vector<int32_t>> tables = {{6, 1, 3}, {0, 7, 4}};
  const std::vector<int> kv_len = {5, 5};
  const std::vector<int> q_len = {1, 3};
  std::vector<std::vector<float>> keys(2), values(2);  // [kv_len, kv_heads, dim]
  std::vector<float> k_pool(num_blocks * block * kv_heads * dim, 0.0f);
  std::vector<float> v_pool(k_pool.size(), 0.0f);
  for (int s = 0; s < 2; ++s) {
    keys[s] = Random(kv_len[s] * kv_heads * dim);
    values[s] = Random(kv_len[s] * kv_heads * dim);
    for (int j = 0; j < kv_len[s]; ++j) {
      const int slot = tables[s][j / block] * block + j % block;
      for (int e = 0; e < kv_heads * dim; ++e) {
        k_pool[slot * kv_heads * dim + e] = keys[s][j * kv_heads * dim + e];
        v_pool[slot * kv_heads * dim + e] = values[s][j * kv_heads * dim + e];
      }
    }
  }
  KvCacheView cache{.k = Make(k_pool, {num_blocks, block, kv_heads, dim}),
                    .v = Make(v_pool, {num_blocks, block, kv_heads, dim})};
  auto qkv = Random(4 * total * dim);
  std::vector<int32_t> q_indptr = {0, 1, 4}, kv_indptr = {0, 3, 6}, kv_indices = {6, 1, 3, 0, 7, 4},
                       last = {1, 1};
  AttentionBatch batch{.num_seqs = 2,
                       .q_indptr = MakeI32(q_indptr),
                       .kv_indptr = MakeI32(kv_indptr),
                       .kv_indices = MakeI32(kv_indices),
                       .kv_last_block_len = MakeI32(last),
                       .host_q_indptr = q_indptr.data(),
                       .host_kv_indptr = kv_indptr.data(),
                       .host_kv_indices = kv_indices.data(),
                       .host_kv_last_block_len = last.data()};
  Tensor out = Make(std::vector<float>(4 * heads * dim), {4, heads, dim});
  const float scale = 0.35f;
  backend_.PagedAttention(Make(qkv, {4, total, dim}), heads, cache, batch, scale, out);
  auto got = Read(out);

  for (int s = 0; s < 2; ++s) {
    for (int i = 0; i < q_len[s]; ++i) {
      const int row = q_indptr[s] + i;
      const int pos = kv_len[s] - q_len[s] + i;
      for (int h = 0; h < heads; ++h) {
        const int kh = h / (heads / kv_heads);
        std::vector<double> p(pos + 1);
        double mx = -1e300, sum = 0;
        for (int j = 0; j <= pos; ++j) {
          double d = 0;
          for (int e = 0; e < dim; ++e) {
            d += static_cast<double>(qkv[(row * total + h) * dim + e]) *
                 keys[s][(j * kv_heads + kh) * dim + e];
          }
          p[j] = d * scale;
          mx = std::max(mx, p[j]);
        }
        for (double& x : p) sum += (x = std::exp(x - mx));
        for (int e = 0; e < dim; ++e) {
          double ref = 0;
          for (int j = 0; j <= pos; ++j)
            ref += p[j] / sum * values[s][(j * kv_heads + kh) * dim + e];
          EXPECT_NEAR(got[(row * heads + h) * dim + e], ref, 1e-5)
              << "seq " << s << " query " << i << " head " << h;
        }
      }
    }
  }
}

TEST_F(CpuBackendTest, WriteKvCacheStoresKeyAndValueHeadsAtSlots) {
  const int heads = 2, kv_heads = 1, dim = 4, block = 2, num_blocks = 3;
  const int total = heads + 2 * kv_heads;
  auto qkv = Random(2 * total * dim);
  KvCacheView cache{
      .k = Make(std::vector<float>(num_blocks * block * dim), {num_blocks, block, 1, dim}),
      .v = Make(std::vector<float>(num_blocks * block * dim), {num_blocks, block, 1, dim})};
  backend_.WriteKvCache(Make(qkv, {2, total, dim}), heads, MakeI32({5, 2}), cache);
  auto k = Read(cache.k);
  auto v = Read(cache.v);
  for (int e = 0; e < dim; ++e) {
    EXPECT_EQ(k[5 * dim + e], qkv[(0 * total + heads) * dim + e]);
    EXPECT_EQ(v[5 * dim + e], qkv[(0 * total + heads + 1) * dim + e]);
    EXPECT_EQ(k[2 * dim + e], qkv[(1 * total + heads) * dim + e]);
    EXPECT_EQ(v[2 * dim + e], qkv[(1 * total + heads + 1) * dim + e]);
    EXPECT_EQ(k[0 * dim + e], 0.0f);
  }
}

}  // namespace
}  // namespace loom
