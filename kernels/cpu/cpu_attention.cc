// Paged causal attention on the CPU: for every query token and head, one pass over the
// sequence's keys through its block table, a max-subtracted softmax in fp32 and a
// weighted sum of values. Quadratic and plain on purpose; it is the reference for the
// flash-attention kernels of other backends.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu_backend.h"

namespace loom {

void CpuBackend::PagedAttention(const Tensor& qkv, int num_heads, const KvCacheView& cache,
                                const AttentionBatch& batch, float scale, Tensor out) {
  LOOM_CHECK(qkv.dtype == DType::kF32 && out.dtype == DType::kF32 && cache.k.dtype == DType::kF32);
  LOOM_CHECK(batch.host_q_indptr != nullptr && batch.host_kv_indptr != nullptr &&
             batch.host_kv_indices != nullptr && batch.host_kv_last_block_len != nullptr)
      << "the CPU backend needs the host copies of the attention batch";
  const int64_t total_heads = qkv.dim(1);
  const int head_dim = static_cast<int>(qkv.dim(2));
  const int num_kv_heads = cache.num_kv_heads();
  const int block_size = cache.block_size();
  const int64_t num_blocks = cache.k.dim(0);
  LOOM_CHECK(head_dim == cache.head_dim() && num_heads % num_kv_heads == 0 &&
             num_heads + 2 * num_kv_heads == total_heads)
      << "qkv " << qkv.ShapeString() << " with " << num_heads << " query heads, cache "
      << cache.k.ShapeString();
  LOOM_CHECK(out.numel() == qkv.dim(0) * num_heads * head_dim) << out.ShapeString();
  const int group = num_heads / num_kv_heads;
  const int64_t kv_row = static_cast<int64_t>(num_kv_heads) * head_dim;

  std::vector<float> scores;
  std::vector<float> acc(head_dim);
  for (int s = 0; s < batch.num_seqs; ++s) {
    const int q_begin = batch.host_q_indptr[s];
    const int q_len = batch.host_q_indptr[s + 1] - q_begin;
    const int32_t* blocks = batch.host_kv_indices + batch.host_kv_indptr[s];
    const int seq_blocks = batch.host_kv_indptr[s + 1] - batch.host_kv_indptr[s];
    LOOM_CHECK(seq_blocks >= 1) << "sequence " << s << " has no KV blocks";
    const int kv_len = (seq_blocks - 1) * block_size + batch.host_kv_last_block_len[s];
    LOOM_CHECK(q_len <= kv_len) << "sequence " << s << ": " << q_len << " queries over " << kv_len
                                << " cached tokens";
    for (int b = 0; b < seq_blocks; ++b) {
      LOOM_CHECK(blocks[b] >= 0 && blocks[b] < num_blocks) << "block id " << blocks[b];
    }
    scores.resize(kv_len);
    for (int i = 0; i < q_len; ++i) {
      const int position = kv_len - q_len + i;
      for (int h = 0; h < num_heads; ++h) {
        const int kv_head = h / group;
        const float* qh =
            qkv.as<float>() + (static_cast<int64_t>(q_begin + i) * total_heads + h) * head_dim;
        float max_score = -std::numeric_limits<float>::infinity();
        for (int j = 0; j <= position; ++j) {
          const int64_t slot =
              static_cast<int64_t>(blocks[j / block_size]) * block_size + j % block_size;
          const float* kh = cache.k.as<float>() + slot * kv_row + kv_head * head_dim;
          float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
          for (int d = 0; d < head_dim; ++d) dot += qh[d] * kh[d];
          scores[j] = dot * scale;
          max_score = std::max(max_score, scores[j]);
        }
        float denominator = 0.0f;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int j = 0; j <= position; ++j) {
          const float p = std::exp(scores[j] - max_score);
          denominator += p;
          const int64_t slot =
              static_cast<int64_t>(blocks[j / block_size]) * block_size + j % block_size;
          const float* vh = cache.v.as<float>() + slot * kv_row + kv_head * head_dim;
          for (int d = 0; d < head_dim; ++d) acc[d] += p * vh[d];
        }
        float* dst =
            out.as<float>() + (static_cast<int64_t>(q_begin + i) * num_heads + h) * head_dim;
        for (int d = 0; d < head_dim; ++d) dst[d] = acc[d] / denominator;
      }
    }
  }
}

}  // namespace loom
