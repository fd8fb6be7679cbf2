// The whole configuration of `loom serve`: built-in defaults, then the YAML files
// (server.yaml and the model YAMLs of its models_dir), then the command-line flags.
//
// Which models are served, first match wins:
//   1. MODEL_DIR (a Hugging Face directory, every model key at its default);
//   2. models_dir (--models-dir, else server.yaml's): one model per *.yaml file;
//   3. the bundled model.
// Model flags (--max-batch-size, --session-len, ...) then apply to every model served, and
// --model-name renames the model when exactly one is served.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/config/model_config_yaml.h"
#include "server/config/server_config.h"

namespace loom {

// The flags given on the command line; nullopt: not given. Each given one replaces the
// YAML's value (and its origin becomes the flag's name, for error messages).
struct ServeOverrides {
  std::optional<std::filesystem::path> model_dir;  // MODEL_DIR
  std::optional<std::string> model_name;
  std::optional<std::filesystem::path> models_dir;
  // server.yaml's keys
  std::optional<std::string> host;
  std::optional<int> port;
  std::optional<int> metrics_port;
  std::optional<std::vector<std::string>> api_keys;  // --api-key, repeated
  std::optional<std::filesystem::path> api_key_file;
  std::optional<std::filesystem::path> tls_cert;
  std::optional<std::filesystem::path> tls_key;
  std::optional<std::filesystem::path> tls_client_ca;
  std::optional<double> drain_timeout;
  std::optional<int> max_receive_message_bytes;
  std::optional<int> max_send_message_bytes;
  std::optional<int> max_queued_requests;
  std::optional<int64_t> max_queued_tokens;
  std::optional<int> max_sessions;
  // model YAML keys
  std::optional<std::string> backend;  // cpu | cuda
  std::optional<std::string> dtype;    // auto | float32 | float16 | bfloat16
  std::optional<int> max_batch_size;
  std::optional<int> max_prefill_tokens;
  std::optional<int> session_len;
  std::optional<int> block_size;
  std::optional<double> cache_max_entry_count;
  std::optional<int> num_blocks;  // a block count; 0: the default pool
  std::optional<bool> enable_prefix_caching;
  std::optional<bool> async_scheduling;
};

struct ServeConfig {
  ServerConfig server;
  std::vector<ModelYaml> models;  // the first one is the default model
};

// Applies the server flags of `cli` to `server`. Errors: InvalidArgument naming the flag
// for a value out of range, or TLS flags that leave cert or key unset.
absl::Status ApplyServerOverrides(const ServeOverrides& cli, ServerConfig& server);

// Applies the model flags of `cli` to `model`. Errors: InvalidArgument naming the flag for
// a value out of range, or both --num-blocks and --cache-max-entry-count.
absl::Status ApplyModelOverrides(const ServeOverrides& cli, ModelYaml& model);

// The merged configuration. `config_file` empty: no server.yaml, built-in defaults.
// `default_model_dir` is called only when neither MODEL_DIR nor a models_dir is given.
// Errors: LoadServerConfig's, LoadModelYamlDir's, the Apply*Overrides' and
// default_model_dir's; InvalidArgument for both MODEL_DIR and --models-dir, for
// --model-name with several models, and for two models with one name.
absl::StatusOr<ServeConfig> BuildServeConfig(
    const std::filesystem::path& config_file, const ServeOverrides& cli,
    const std::function<absl::StatusOr<std::filesystem::path>()>& default_model_dir);

}  // namespace loom
