// Loads a Hugging Face model directory onto a backend: config, tokenizer, weights, and
// a model runner with its KV pool.
#pragma once

#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"
#include "engine/model/model_config.h"
#include "engine/model_runner.h"
#include "engine/text/tokenizer.h"
#include "kernels/backend.h"

namespace loom {

// The engine settings that shape memory. The names match the model YAML keys.
struct EngineOptions {
  int block_size = 64;            // tokens per KV block
  int session_len = 0;            // longest prompt + output; 0 = max_position_embeddings
  int max_batch_size = 8;         // sequences per forward step
  int max_prefill_tokens = 2048;  // new tokens per forward step
  // KV pool size in blocks; 0 = enough for max_batch_size sessions of session_len.
  int num_blocks = 0;
};

struct LoadedModel {
  std::filesystem::path dir;
  ModelConfig config;
  EngineOptions options;  // as given, with num_blocks resolved
  int session_len = 0;    // resolved from EngineOptions
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ModelRunner> runner;
};

// Reads dir/config.json (+ generation_config.json), dir/tokenizer.json
// (+ tokenizer_config.json) and the safetensors weights, and uploads them to `backend`,
// which must outlive the result. The runner takes up to max_prefill_tokens +
// max_batch_size tokens per step: a full prefill budget plus one decode per sequence.
// Errors name the file and, for weights, the tensor.
absl::StatusOr<LoadedModel> LoadModel(const std::filesystem::path& dir, Backend* backend,
                                      const EngineOptions& options);

}  // namespace loom
