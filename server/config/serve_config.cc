#include "server/config/serve_config.h"

#include <climits>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace loom {
namespace {

// Sets `out` from a given flag and records the flag as the key's origin.
template <typename T, typename U>
absl::Status Override(const std::optional<U>& flag, std::string_view name, std::string_view key,
                      int64_t min, int64_t max, T& out, ConfigOrigins& origins) {
  if (!flag.has_value()) return absl::OkStatus();
  if (*flag < min || *flag > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(name), " must be in [", min, ", ", max, "], got ", *flag));
  }
  out = static_cast<T>(*flag);
  origins[std::string(key)] = std::string(name);
  return absl::OkStatus();
}

template <typename T>
void OverrideValue(const std::optional<T>& flag, std::string_view name, std::string_view key,
                   T& out, ConfigOrigins& origins) {
  if (!flag.has_value()) return;
  out = *flag;
  origins[std::string(key)] = std::string(name);
}

absl::Status ApplyTls(const ServeOverrides& cli, ServerConfig& server) {
  if (!cli.tls_cert && !cli.tls_key && !cli.tls_client_ca) return absl::OkStatus();
  ServerConfig::Tls tls = server.tls.value_or(ServerConfig::Tls{});
  OverrideValue(cli.tls_cert, "--tls-cert", "tls.cert", tls.cert, server.origins);
  OverrideValue(cli.tls_key, "--tls-key", "tls.key", tls.key, server.origins);
  OverrideValue(cli.tls_client_ca, "--tls-client-ca", "tls.client_ca", tls.client_ca,
                server.origins);
  if (tls.cert.empty() || tls.key.empty()) {
    return absl::InvalidArgumentError(
        cli.tls_cert || cli.tls_key
            ? "--tls-cert and --tls-key: give both (or set tls in server.yaml)"
            : "--tls-client-ca: needs --tls-cert and --tls-key (or tls in server.yaml)");
  }
  server.tls = std::move(tls);
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyServerOverrides(const ServeOverrides& cli, ServerConfig& server) {
  ConfigOrigins& o = server.origins;
  OverrideValue(cli.host, "--host", "host", server.host, o);
  OverrideValue(cli.api_keys, "--api-key", "api_keys", server.api_keys, o);
  OverrideValue(cli.api_key_file, "--api-key-file", "api_key_file", server.api_key_file, o);
  OverrideValue(cli.models_dir, "--models-dir", "models_dir", server.models_dir, o);
  if (cli.drain_timeout.has_value()) {
    if (!(*cli.drain_timeout >= 0) || !std::isfinite(*cli.drain_timeout)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--drain-timeout must be >= 0 seconds, got ", *cli.drain_timeout));
    }
    OverrideValue(cli.drain_timeout, "--drain-timeout", "drain_timeout", server.drain_timeout, o);
  }
  for (absl::Status status : {
           Override(cli.port, "--port", "port", 0, 65535, server.port, o),
           Override(cli.metrics_port, "--metrics-port", "metrics_port", -1, 65535,
                    server.metrics_port, o),
           Override(cli.max_receive_message_bytes, "--max-receive-message-bytes",
                    "max_receive_message_bytes", 1, INT_MAX, server.max_receive_message_bytes, o),
           Override(cli.max_send_message_bytes, "--max-send-message-bytes",
                    "max_send_message_bytes", 1, INT_MAX, server.max_send_message_bytes, o),
           Override(cli.max_queued_requests, "--max-queued-requests", "max_queued_requests", 1,
                    INT_MAX, server.max_queued_requests, o),
           Override(cli.max_queued_tokens, "--max-queued-tokens", "max_queued_tokens", 1, INT64_MAX,
                    server.max_queued_tokens, o),
           Override(cli.max_sessions, "--max-sessions", "max_sessions", 1, INT_MAX,
                    server.max_sessions, o),
       }) {
    if (!status.ok()) return status;
  }
  return ApplyTls(cli, server);
}

absl::Status ApplyModelOverrides(const ServeOverrides& cli, ModelYaml& model) {
  ConfigOrigins& o = model.origins;
  if (cli.backend.has_value()) {
    if (*cli.backend != "cpu" && *cli.backend != "cuda") {
      return absl::InvalidArgumentError(
          absl::StrCat("--backend must be cpu or cuda, got '", *cli.backend, "'"));
    }
    model.backend = *cli.backend == "cuda" ? BackendKind::kCuda : BackendKind::kCpu;
    o["backend"] = "--backend";
  }
  if (cli.dtype.has_value()) {
    if (*cli.dtype != "auto" && *cli.dtype != "float32" && *cli.dtype != "float16" &&
        *cli.dtype != "bfloat16") {
      return absl::InvalidArgumentError(absl::StrCat(
          "--dtype must be auto, float32, float16 or bfloat16, got '", *cli.dtype, "'"));
    }
    model.dtype = *cli.dtype;
    o["dtype"] = "--dtype";
  }
  OverrideValue(cli.enable_prefix_caching, "--enable-prefix-caching", "enable_prefix_caching",
                model.enable_prefix_caching, o);
  OverrideValue(cli.async_scheduling, "--async-scheduling", "async_scheduling",
                model.async_scheduling, o);
  for (absl::Status status : {
           Override(cli.max_batch_size, "--max-batch-size", "max_batch_size", 1, INT_MAX,
                    model.max_batch_size, o),
           Override(cli.max_prefill_tokens, "--max-prefill-tokens", "max_prefill_tokens", 1,
                    INT_MAX, model.max_prefill_tokens, o),
           Override(cli.session_len, "--session-len", "session_len", 0, INT_MAX, model.session_len,
                    o),
           Override(cli.block_size, "--block-size", "block_size", 1, INT_MAX, model.block_size, o),
       }) {
    if (!status.ok()) return status;
  }
  if (cli.num_blocks.has_value() && cli.cache_max_entry_count.has_value()) {
    return absl::InvalidArgumentError(
        "--num-blocks and --cache-max-entry-count both size the KV pool: give one");
  }
  if (cli.num_blocks.has_value()) {
    if (*cli.num_blocks < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--num-blocks must be >= 0, got ", *cli.num_blocks));
    }
    model.cache_max_entry_count.reset();
    if (*cli.num_blocks > 0) model.cache_max_entry_count = *cli.num_blocks;
    o["cache_max_entry_count"] = "--num-blocks";
  }
  if (cli.cache_max_entry_count.has_value()) {
    const double count = *cli.cache_max_entry_count;
    if (!(count > 0) || (count >= 1 && (count != std::floor(count) || count > INT_MAX))) {
      return absl::InvalidArgumentError(
          absl::StrCat("--cache-max-entry-count must be a fraction in (0, 1) or a whole number "
                       "of KV blocks >= 1, got ",
                       count));
    }
    model.cache_max_entry_count = count;
    o["cache_max_entry_count"] = "--cache-max-entry-count";
  }
  return absl::OkStatus();
}

absl::StatusOr<ServeConfig> BuildServeConfig(
    const std::filesystem::path& config_file, const ServeOverrides& cli,
    const std::function<absl::StatusOr<std::filesystem::path>()>& default_model_dir) {
  ServeConfig config;
  if (!config_file.empty()) {
    absl::StatusOr<ServerConfig> server = LoadServerConfig(config_file);
    if (!server.ok()) return server.status();
    config.server = *std::move(server);
  }
  if (absl::Status status = ApplyServerOverrides(cli, config.server); !status.ok()) return status;

  if (cli.model_dir.has_value() && cli.models_dir.has_value()) {
    return absl::InvalidArgumentError("MODEL_DIR and --models-dir: give one");
  }
  if (cli.model_dir.has_value()) {
    config.models.push_back(ModelYamlForDirectory(*cli.model_dir, cli.model_name.value_or("")));
  } else if (!config.server.models_dir.empty()) {
    absl::StatusOr<std::vector<ModelYaml>> models = LoadModelYamlDir(config.server.models_dir);
    if (absl::IsNotFound(models.status())) {  // the directory itself: say who named it
      return absl::Status(models.status().code(), absl::StrCat(config.server.Where("models_dir"),
                                                               ": ", models.status().message()));
    }
    if (!models.ok()) return models.status();
    config.models = *std::move(models);
  } else {
    absl::StatusOr<std::filesystem::path> dir = default_model_dir();
    if (!dir.ok()) return dir.status();
    config.models.push_back(ModelYamlForDirectory(*dir, cli.model_name.value_or("")));
  }
  if (cli.model_name.has_value()) {
    if (config.models.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--model-name names one model, but ", config.models.size(),
                       " are served (from models_dir ", config.server.models_dir.string(),
                       "); set `name` in their YAML files instead"));
    }
    config.models.front().name = *cli.model_name;
    config.models.front().origins["name"] = "--model-name";
  }
  for (ModelYaml& model : config.models) {
    if (absl::Status status = ApplyModelOverrides(cli, model); !status.ok()) return status;
  }
  if (absl::Status status = CheckUniqueModelNames(config.models); !status.ok()) return status;
  return config;
}

}  // namespace loom
