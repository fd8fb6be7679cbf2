#include "engine/model_loader.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/model/checkpoint.h"
#include "engine/model_weights.h"

namespace loom {

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
      .num_blocks =
          options.num_blocks > 0 ? options.num_blocks : blocks_per_session * options.max_batch_size,
      .max_num_tokens = options.max_prefill_tokens + options.max_batch_size,
      .max_num_seqs = options.max_batch_size,
  };
  model.options = options;
  model.options.num_blocks = runner_options.num_blocks;
  auto runner = ModelRunner::Create(model.config, *std::move(weights), backend, runner_options);
  if (!runner.ok()) return runner.status();
  model.runner = *std::move(runner);
  return model;
}

}  // namespace loom
