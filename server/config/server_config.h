// `configs/server.yaml`: how `loom serve` listens and what it accepts, for every model.
//
//   host: 127.0.0.1              # listen address
//   port: 50051                  # 0: any free port
//   metrics_port: 9400           # Prometheus /metrics over HTTP; 0: any free port; -1: off
//   tls:                         # optional; cert and key together, client_ca for mutual TLS
//     cert: server.pem
//     key: server.key
//     client_ca: clients.pem
//   api_keys: [KEY, ...]         # clients send `authorization: Bearer KEY`
//   api_key_file: keys.txt       # one key per line (api_keys.h)
//   max_queued_requests: 1024    # per model: queued requests, then RESOURCE_EXHAUSTED
//   max_queued_tokens: 4194304   # per model: prompt tokens of the waiting requests
//   max_sessions: 4096           # per model: open stateful sessions
//   max_receive_message_bytes: 16777216
//   max_send_message_bytes: 16777216
//   drain_timeout: 30            # seconds calls in flight get after SIGTERM
//   models_dir: models           # every *.yaml there is a model (model_config_yaml.h)
//
// Every key is optional and named like its `loom serve` flag (`--max-queued-requests`);
// relative paths (tls files, api_key_file, models_dir) are relative to the YAML file's
// directory, and null leaves a path (or tls) unset. The reader is strict (yaml_reader.h): unknown
// keys, wrong types and values out of range are errors naming FILE:LINE:COLUMN.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/engine.h"
#include "server/config/yaml_reader.h"
#include "server/server.h"

namespace loom {

struct ServerConfig {
  struct Tls {
    std::filesystem::path cert;
    std::filesystem::path key;
    std::filesystem::path client_ca;  // empty: no client certificates asked for
  };

  std::string host = ServerOptions{}.host;
  int port = ServerOptions{}.port;
  int metrics_port = ServerOptions{}.metrics_port;
  std::optional<Tls> tls;
  std::vector<std::string> api_keys;
  std::filesystem::path api_key_file;
  int max_queued_requests = EngineConfig{}.max_queued_requests;
  int64_t max_queued_tokens = EngineConfig{}.max_queued_tokens;
  int max_sessions = EngineConfig{}.max_sessions;
  int max_receive_message_bytes = ServerOptions{}.max_receive_message_bytes;
  int max_send_message_bytes = ServerOptions{}.max_send_message_bytes;
  double drain_timeout = absl::ToDoubleSeconds(ServerOptions{}.drain_timeout);
  // Empty: no models directory (serve MODEL_DIR or the bundled model).
  std::filesystem::path models_dir;

  std::string file;       // the YAML file read, or empty
  ConfigOrigins origins;  // where each key set came from (dotted: "tls.cert")

  // Origin of `key`, else the file, else "built-in default": what start-up errors name.
  std::string Where(std::string_view key) const;
};

// The valid top-level keys of server.yaml, and those of its `tls` mapping.
std::span<const std::string_view> ServerConfigKeys();
std::span<const std::string_view> TlsConfigKeys();

// Reads a parsed server.yaml over the built-in defaults. `file` names it in errors;
// relative paths are taken against `base_dir`. Errors: InvalidArgument
// "FILE:LINE:COLUMN: message" as in the file comment; tls without both cert and key.
absl::StatusOr<ServerConfig> ParseServerConfig(const YAML::Node& root, std::string_view file,
                                               const std::filesystem::path& base_dir);

// Loads and parses `file`. Errors: LoadYamlFile's and ParseServerConfig's.
absl::StatusOr<ServerConfig> LoadServerConfig(const std::filesystem::path& file);

// The options Server::Start takes. Reads api_key_file. Errors: ApiKeys::Create's (an
// empty key, one with whitespace, an unreadable key file), prefixed with where the key or
// file was given.
absl::StatusOr<ServerOptions> ToServerOptions(const ServerConfig& config);

}  // namespace loom
