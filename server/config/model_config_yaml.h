// `configs/models/<name>.yaml`: one served model.
//
//   name: tiny                   # the proto's `model`; default: the file's stem
//   path: ../../models/tiny      # Hugging Face directory; relative to this file (required)
//   backend: cpu                 # cpu | cuda
//   dtype: auto                  # auto | float32 | float16 | bfloat16 (compute dtype)
//   tp: 1                        # tensor-parallel GPUs per replica
//   devices: [0, 1]              # GPU ids, tp x replicas of them (cuda only)
//   replicas: 1                  # engine replicas
//   max_batch_size: 8            # sequences per forward step
//   max_prefill_tokens: 2048     # prompt tokens per forward step
//   session_len: 0               # longest prompt + output; 0: max_position_embeddings
//   cache_max_entry_count: 0.5   # KV pool: a fraction (0, 1) or a block count (>= 1)
//   block_size: 64               # tokens per KV block
//   enable_prefix_caching: true
//   async_scheduling: true       # queue the next decode step before this one is read back
//   quant_policy: 0              # KV cache quantization: 0 (off), 4 or 8 bits
//   chat_template: llama3        # engine/chat/chat_template_yaml.h: a name, Jinja, a mapping
//   sampling:                    # request defaults, the proto's SamplingParams names
//     temperature: 0.7           #   temperature, top_p, top_k, min_p, repetition_penalty,
//     max_tokens: 256            #   presence_penalty, frequency_penalty, max_tokens, stop,
//                                #   stop_token_ids
//
// Keys are named like `loom serve`'s flags (`--max-batch-size`). Three stages, each with
// errors that name FILE:LINE:COLUMN of the key (or the --flag that set it):
//   1. ParseModelYaml: the keys, their types and ranges (yaml_reader.h). What is valid
//      configuration parses, even when this build cannot run it (backend: cuda).
//   2. PlanModelLaunch, at start-up, before any model loads: what this build cannot run
//      yet is Unimplemented ("not supported yet by this build"), never ignored; what
//      cannot fit (a context longer than the model's positions or than the KV pool, a
//      KV pool larger than the machine's memory, ...) is InvalidArgument saying why.
//   3. LoadServedModel: the weights, tokenizer and chat template.
//
// cache_max_entry_count, as in LMDeploy: a value >= 1 is a number of KV blocks (a whole
// number). A fraction f in (0, 1) is, on a GPU backend, the share of the memory left free
// after the weights. The CPU backend has no such pool of free memory, so there f is the
// share of the default pool, which holds max_batch_size sessions of session_len:
// floor(f * max_batch_size * ceil(session_len / block_size)) blocks, at least 1. Unset
// (or null): that default pool.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/chat/chat_template_override.h"
#include "engine/engine.h"
#include "engine/model/model_config.h"
#include "engine/model_loader.h"
#include "server/config/server_config.h"
#include "server/config/yaml_reader.h"
#include "server/served_model.h"

namespace loom {

enum class BackendKind { kCpu, kCuda };

// "cpu" | "cuda": the YAML's words.
std::string_view BackendKindName(BackendKind kind);

struct ModelYaml {
  std::string file;  // the YAML file, or empty for a model given as a directory
  std::string name;
  std::filesystem::path path;  // the Hugging Face directory, resolved
  BackendKind backend = BackendKind::kCpu;
  std::string dtype = "auto";
  int tp = 1;
  std::vector<int> devices;
  int replicas = 1;
  int max_batch_size = EngineOptions{}.max_batch_size;
  int max_prefill_tokens = EngineOptions{}.max_prefill_tokens;
  int session_len = EngineOptions{}.session_len;  // 0: max_position_embeddings
  std::optional<double> cache_max_entry_count;    // unset: the default pool (see above)
  int block_size = EngineOptions{}.block_size;
  bool enable_prefix_caching = EngineConfig{}.enable_prefix_caching;
  bool async_scheduling = EngineConfig{}.async_scheduling;
  int quant_policy = 0;
  ChatTemplateOverride chat_template;
  YAML::Node chat_template_yaml;  // the `chat_template` value as written, for printing
  SamplingDefaults sampling;

  ConfigOrigins origins;  // where each key set came from ("sampling.top_p", ...)

  // Origin of `key`, else the file, else the model's directory: what errors name.
  std::string Where(std::string_view key) const;
};

// The valid keys of a model YAML and of its `sampling` mapping.
std::span<const std::string_view> ModelYamlKeys();
std::span<const std::string_view> SamplingYamlKeys();

// Reads a parsed model YAML. `file` names it in errors and gives the default name (its
// stem); a relative `path` is taken against `base_dir`. Errors: InvalidArgument
// "FILE:LINE:COLUMN: message" for an unknown key, a wrong type, a value out of range
// (e.g. a negative port, temperature -1, quant_policy 3, cache_max_entry_count 0), a
// missing `path`, keys that contradict each other (devices without backend cuda, or not
// tp x replicas of them), and ParseChatTemplateOverride's errors.
absl::StatusOr<ModelYaml> ParseModelYaml(const YAML::Node& root, std::string_view file,
                                         const std::filesystem::path& base_dir);

// Loads and parses one file. Errors: LoadYamlFile's and ParseModelYaml's.
absl::StatusOr<ModelYaml> LoadModelYaml(const std::filesystem::path& file);

// Every *.yaml and *.yml file directly in `dir`, in file name order. Errors: NotFound for
// a missing directory or one with no model file; each file's errors; InvalidArgument for
// two models with one name, naming both files.
absl::StatusOr<std::vector<ModelYaml>> LoadModelYamlDir(const std::filesystem::path& dir);

// A model given as a Hugging Face directory (MODEL_DIR), with every key at its default.
// `name` empty: the directory's name.
ModelYaml ModelYamlForDirectory(const std::filesystem::path& dir, std::string name);

// InvalidArgument naming both origins when two models share a name.
absl::Status CheckUniqueModelNames(std::span<const ModelYaml> models);

// Everything LoadServedModel takes for one model.
struct ModelLaunch {
  std::filesystem::path dir;
  std::string name;
  EngineOptions engine;  // session_len and num_blocks resolved
  EngineConfig config;
  ServedModelOptions served;
};

// Unimplemented, naming the origin of the key, for valid configuration that this build
// cannot run yet: backend cuda, tp > 1, replicas > 1, quant_policy 4 or 8, a dtype other
// than auto or float32, default sampling.stop or sampling.stop_token_ids. The message
// says "not supported yet by this build" and why. Needs no model files, so `loom serve`
// checks every model before it reads any.
absl::Status CheckSupportedByThisBuild(const ModelYaml& model);

// Checks `model` against its Hugging Face config and resolves session_len and the KV
// pool. `memory_bytes` is the memory the process may use (0: not checked). Errors, each
// naming the origin of the key at fault (FILE:LINE:COLUMN, a --flag, or the file):
//   InvalidArgument  what cannot fit: session_len over max_position_embeddings; a KV pool
//                    smaller than session_len; a KV pool larger than memory_bytes;
//                    sampling.max_tokens over session_len; sampling.stop_token_ids
//                    outside the vocabulary.
//   Unimplemented    then CheckSupportedByThisBuild's errors.
absl::StatusOr<ModelLaunch> PlanModelLaunch(const ModelYaml& model, const ServerConfig& server,
                                            const ModelConfig& model_config, uint64_t memory_bytes);

}  // namespace loom
