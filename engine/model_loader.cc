#include "engine/model_loader.h"

#include <algorithm>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/model/checkpoint.h"
#include "engine/model_weights.h"

namespace loom {

absl::StatusOr<DType> ComputeDtypeFor(std::string_view backend, std::string_view dtype,
                                      const ModelConfig& config) {
  if (dtype == "float32") return DType::kF32;
  if (dtype == "float16") return DType::kF16;
  if (dtype == "bfloat16") return DType::kBF16;
  if (dtype != "auto") {
    return absl::InvalidArgumentError(absl::StrCat(
        "dtype: '", std::string(dtype), "' is not one of auto, float32, float16, bfloat16"));
  }
  if (backend != "cuda") return DType::kF32;
  return config.dtype == DType::kF16 ? DType::kF16 : DType::kBF16;
}

absl::StatusOr<LoadedModel> LoadModel(const std::filesystem::path& dir, Backend* backend,
                                      const EngineOptions& options) {
  LoadedModel model;
  model.dir = dir;
  auto config = LoadModelConfig(dir);
  if (!config.ok()) return config.status();
  model.config = *std::move(config);

  model.session_len =
      options.session_len > 0 ? options.session_len : model.config.max_position_embeddings;
  if (model.session_len > model.config.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat(
        "session_len ", model.session_len, " exceeds the model's max_position_embeddings ",
        model.config.max_position_embeddings, " (", (dir / "config.json").string(), ")"));
  }
  if (options.block_size <= 0 || options.max_batch_size <= 0 || options.max_prefill_tokens <= 0 ||
      options.num_blocks < 0) {
    return absl::InvalidArgumentError(
        "block_size, max_batch_size and max_prefill_tokens must be positive; num_blocks >= 0");
  }

  // Before the weights load: a shape the kernels do not take fails at once.
  if (auto status =
          backend->SupportsShape(model.config.hidden_size, model.config.head_dim,
                                 model.config.num_key_value_heads, model.config.intermediate_size);
      !status.ok()) {
    return absl::Status(status.code(),
                        absl::StrCat((dir / "config.json").string(), ": ", status.message()));
  }

  auto tokenizer = Tokenizer::Load(dir);
  if (!tokenizer.ok()) return tokenizer.status();
  model.tokenizer = *std::move(tokenizer);

  auto checkpoint = Checkpoint::Open(dir);
  if (!checkpoint.ok()) return checkpoint.status();
  auto weights = LoadModelWeights(**checkpoint, model.config, *backend);
  if (!weights.ok()) return weights.status();

  const int blocks_per_session = (model.session_len + options.block_size - 1) / options.block_size;
  ModelRunnerOptions runner_options{
      .block_size = options.block_size,
      .num_blocks = options.num_blocks,
      .max_num_tokens = options.max_prefill_tokens + options.max_batch_size,
      .max_num_seqs = options.max_batch_size,
      .max_seq_len = model.session_len,
      .use_graphs = options.use_graphs,
  };
  const DType dtype = backend->activation_dtype();
  const int64_t block_bytes = ModelRunner::BytesPerBlock(model.config, options.block_size, dtype);
  const std::optional<DeviceMemory> memory = backend->MemoryInfo();
  std::string source = "num_blocks";
  if (options.num_blocks == 0 && memory.has_value()) {
    // LMDeploy's cache_max_entry_count: a share of what the weights left free, less the
    // activation workspace, which must fit beside the pool.
    const double free_bytes = static_cast<double>(memory->free_bytes);
    runner_options.num_blocks = blocks_per_session;  // sizes the block tables
    const double workspace =
        static_cast<double>(ModelRunner::WorkspaceBytes(model.config, runner_options, dtype));
    const double budget =
        std::min(options.kv_cache_free_fraction * free_bytes, free_bytes - workspace - (256 << 20));
    runner_options.num_blocks = static_cast<int>(std::max(0.0, budget / block_bytes)) - 1;
    source = absl::StrCat("cache_max_entry_count ", options.kv_cache_free_fraction, " of ",
                          absl::StrFormat("%.2f", free_bytes / (1 << 30)),
                          " GiB free after the weights");
  } else if (options.num_blocks == 0) {
    runner_options.num_blocks = blocks_per_session * options.max_batch_size;
    source = "max_batch_size sessions of session_len";
  }
  if (options.num_blocks == 0 && runner_options.num_blocks < blocks_per_session) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the KV pool of ", std::max(runner_options.num_blocks, 0), " blocks (", source,
                     ") holds fewer tokens than one session of session_len ", model.session_len,
                     "; lower session_len or give the KV cache more memory"));
  }
  model.kv_pool_summary = absl::StrCat(
      "KV pool: ", runner_options.num_blocks, " blocks x ", options.block_size,
      " tokens = ", static_cast<int64_t>(runner_options.num_blocks) * options.block_size,
      " tokens, ",
      absl::StrFormat("%.2f",
                      static_cast<double>(block_bytes) * runner_options.num_blocks / (1 << 30)),
      " GiB of ", std::string(DTypeName(dtype)), " on ", backend->name(), " (", source, ")");
  model.options = options;
  model.options.num_blocks = runner_options.num_blocks;
  auto runner = ModelRunner::Create(model.config, *std::move(weights), backend, runner_options);
  if (!runner.ok()) return runner.status();
  model.runner = *std::move(runner);
  return model;
}

}  // namespace loom
