#include "engine/model_weights.h"

#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/architecture.h"

namespace loom {
namespace {

// One destination tensor, filled from one or more checkpoint tensors stacked along
// dimension 0 (q/k/v, gate/up).
struct WeightSpec {
  Tensor* target;
  std::vector<std::string> parts;
  std::vector<std::vector<int64_t>> part_shapes;
};

int64_t Rows(const std::vector<std::vector<int64_t>>& shapes) {
  int64_t rows = 0;
  for (const auto& s : shapes) rows += s[0];
  return rows;
}

// Converts `count` elements from a floating checkpoint dtype to the backend dtype.
absl::Status ConvertInto(const TensorInfo& src, DType dst_dtype, void* dst) {
  const size_t count = src.data.size() / DTypeSize(src.dtype);
  if (src.dtype == dst_dtype) {
    std::memcpy(dst, src.data.data(), src.data.size());
    return absl::OkStatus();
  }
  if (dst_dtype == DType::kF32) {
    WidenToFloat(src.dtype, src.data.data(), count, static_cast<float*>(dst));
    return absl::OkStatus();
  }
  if (dst_dtype == DType::kBF16 || dst_dtype == DType::kF16) {
    std::vector<float> wide(count);
    WidenToFloat(src.dtype, src.data.data(), count, wide.data());
    auto* out = static_cast<uint16_t*>(dst);
    for (size_t i = 0; i < count; ++i) {
      out[i] = dst_dtype == DType::kBF16 ? FloatToBF16(wide[i]) : FloatToF16(wide[i]);
    }
    return absl::OkStatus();
  }
  return absl::UnimplementedError(
      absl::StrCat("tensor '", src.name, "': converting ", std::string(DTypeName(src.dtype)),
                   " to ", std::string(DTypeName(dst_dtype)), " is not supported"));
}

}  // namespace

absl::StatusOr<ModelWeights> LoadModelWeights(const Checkpoint& checkpoint,
                                              const ModelConfig& config, Backend& backend) {
  auto names_or = WeightNamesFor(config.architecture);
  if (!names_or.ok()) return names_or.status();
  const WeightNames& names = *names_or;
  const int64_t hidden = config.hidden_size;
  const int64_t head_dim = config.head_dim;
  const int64_t q_rows = config.num_attention_heads * head_dim;
  const int64_t kv_rows = config.num_key_value_heads * head_dim;
  const int64_t inter = config.intermediate_size;
  const int64_t vocab = config.vocab_size;

  ModelWeights weights;
  weights.layers.resize(config.num_hidden_layers);
  std::vector<WeightSpec> specs;
  auto add = [&](Tensor* target, std::vector<std::string> parts,
                 std::vector<std::vector<int64_t>> shapes) {
    specs.push_back({target, std::move(parts), std::move(shapes)});
  };

  add(&weights.embed_tokens, {names.embed_tokens}, {{vocab, hidden}});
  add(&weights.final_norm, {names.final_norm}, {{hidden}});
  if (!config.tie_word_embeddings) add(&weights.lm_head, {names.lm_head}, {{vocab, hidden}});
  for (int l = 0; l < config.num_hidden_layers; ++l) {
    LayerWeights& lw = weights.layers[l];
    auto w = [&](const std::string& name) { return names.Layer(l, name + ".weight"); };
    auto b = [&](const std::string& name) { return names.Layer(l, name + ".bias"); };
    add(&lw.input_norm, {w(names.input_norm)}, {{hidden}});
    add(&lw.post_attention_norm, {w(names.post_attention_norm)}, {{hidden}});
    add(&lw.qkv, {w(names.q_proj), w(names.k_proj), w(names.v_proj)},
        {{q_rows, hidden}, {kv_rows, hidden}, {kv_rows, hidden}});
    add(&lw.o_proj, {w(names.o_proj)}, {{hidden, q_rows}});
    add(&lw.gate_up, {w(names.gate_proj), w(names.up_proj)}, {{inter, hidden}, {inter, hidden}});
    add(&lw.down, {w(names.down_proj)}, {{hidden, inter}});
    if (config.qkv_bias) {
      add(&lw.qkv_bias, {b(names.q_proj), b(names.k_proj), b(names.v_proj)},
          {{q_rows}, {kv_rows}, {kv_rows}});
    }
    if (config.o_bias) add(&lw.o_bias, {b(names.o_proj)}, {{hidden}});
    if (config.mlp_bias) {
      add(&lw.gate_up_bias, {b(names.gate_proj), b(names.up_proj)}, {{inter}, {inter}});
      add(&lw.down_bias, {b(names.down_proj)}, {{hidden}});
    }
  }

  // Check every tensor before allocating, so a bad checkpoint fails fast and whole.
  const DType dtype = backend.activation_dtype();
  const size_t element = DTypeSize(dtype);
  size_t total_bytes = 0;
  std::vector<size_t> offsets;
  for (const WeightSpec& spec : specs) {
    int64_t numel = 0;
    for (size_t i = 0; i < spec.parts.size(); ++i) {
      auto tensor = checkpoint.GetFloat(spec.parts[i], spec.part_shapes[i]);
      if (!tensor.ok()) return tensor.status();
      numel += static_cast<int64_t>((*tensor)->data.size() / DTypeSize((*tensor)->dtype));
    }
    total_bytes = (total_bytes + 255) / 256 * 256;  // keep every tensor 256-byte aligned
    offsets.push_back(total_bytes);
    total_bytes += static_cast<size_t>(numel) * element;
  }

  auto storage = backend.Allocate(total_bytes);
  if (!storage.ok()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("model weights need ", total_bytes, " bytes: ", storage.status().message()));
  }
  weights.storage = *std::move(storage);
  auto* base = static_cast<char*>(weights.storage.data());

  std::vector<char> staging;
  for (size_t s = 0; s < specs.size(); ++s) {
    const WeightSpec& spec = specs[s];
    size_t offset = offsets[s];
    for (size_t i = 0; i < spec.parts.size(); ++i) {
      const TensorInfo* src = *checkpoint.GetFloat(spec.parts[i], spec.part_shapes[i]);
      const size_t count = src->data.size() / DTypeSize(src->dtype);
      staging.resize(count * element);
      if (auto st = ConvertInto(*src, dtype, staging.data()); !st.ok()) return st;
      backend.CopyToDevice(base + offset, staging.data(), staging.size());
      offset += staging.size();
    }
    const auto& first = spec.part_shapes[0];
    Tensor& t = *spec.target;
    t = first.size() == 1 ? Tensor(base + offsets[s], dtype, {Rows(spec.part_shapes)})
                          : Tensor(base + offsets[s], dtype, {Rows(spec.part_shapes), first[1]});
  }
  if (config.tie_word_embeddings) weights.lm_head = weights.embed_tokens;
  return weights;
}

}  // namespace loom
