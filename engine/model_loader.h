// Loads a Hugging Face model directory onto a backend: config, tokenizer, weights, and
// a model runner with its KV pool.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

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
  // KV pool size in blocks; 0 = kv_cache_free_fraction of the device memory free after
  // the weights on a backend with device memory (Backend::MemoryInfo), else enough for
  // max_batch_size sessions of session_len.
  int num_blocks = 0;
  double kv_cache_free_fraction = 0.8;  // the YAML's cache_max_entry_count when < 1
  bool use_graphs = true;               // decode steps as graphs where the backend can
};

struct LoadedModel {
  std::filesystem::path dir;
  ModelConfig config;
  EngineOptions options;  // as given, with num_blocks resolved
  int session_len = 0;    // resolved from EngineOptions
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ModelRunner> runner;
  // The KV pool in words, for the start-up log: blocks, tokens, bytes and where the size
  // came from.
  std::string kv_pool_summary;
};

// The compute dtype for `backend` ("cpu" or "cuda") from the YAML's `dtype` word: auto,
// float32, float16 or bfloat16. auto is float32 on cpu; on cuda it is the checkpoint's
// dtype when that is float16, else bfloat16. InvalidArgument naming `dtype` otherwise.
absl::StatusOr<DType> ComputeDtypeFor(std::string_view backend, std::string_view dtype,
                                      const ModelConfig& config);

// Reads dir/config.json (+ generation_config.json), dir/tokenizer.json
// (+ tokenizer_config.json) and the safetensors weights, and uploads them to `backend`,
// which must outlive the result. The runner takes up to max_prefill_tokens +
// max_batch_size tokens per step: a full prefill budget plus one decode per sequence.
// Errors name the file and, for weights, the tensor.
absl::StatusOr<LoadedModel> LoadModel(const std::filesystem::path& dir, Backend* backend,
                                      const EngineOptions& options);

}  // namespace loom
