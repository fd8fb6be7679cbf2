#include "server/config/server_config.h"

#include <array>
#include <cctype>
#include <climits>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/chat/yaml_fields.h"

namespace loom {
namespace {

constexpr std::array<std::string_view, 13> kKeys = {"host",
                                                    "port",
                                                    "metrics_port",
                                                    "tls",
                                                    "api_keys",
                                                    "api_key_file",
                                                    "max_queued_requests",
                                                    "max_queued_tokens",
                                                    "max_sessions",
                                                    "max_receive_message_bytes",
                                                    "max_send_message_bytes",
                                                    "drain_timeout",
                                                    "models_dir"};
constexpr std::array<std::string_view, 3> kTlsKeys = {"cert", "key", "client_ca"};

std::filesystem::path Resolve(const std::filesystem::path& base_dir, const std::string& path) {
  const std::filesystem::path p(path);
  return (p.is_absolute() ? p : base_dir / p).lexically_normal();
}

// A path, relative to base_dir; null leaves it unset.
absl::Status ReadPath(const YamlMapReader& map, std::string_view key,
                      const std::filesystem::path& base_dir, std::filesystem::path& out) {
  if (map.Has(key) && map.Value(key).IsNull()) {
    out.clear();
    return absl::OkStatus();
  }
  std::string text;
  if (absl::Status status = map.ReadString(key, text); !status.ok()) return status;
  if (!text.empty()) out = Resolve(base_dir, text);
  return absl::OkStatus();
}

absl::Status ReadTls(const YamlMapReader& top, std::string_view file,
                     const std::filesystem::path& base_dir, ServerConfig& config) {
  const YAML::Node node = top.Value("tls");
  if (node.IsNull()) {
    config.tls.reset();
    return absl::OkStatus();
  }
  absl::StatusOr<YamlMapReader> tls = YamlMapReader::Read(node, file, "tls", kTlsKeys);
  if (!tls.ok()) return tls.status();
  tls->RecordOrigins(config.origins);
  ServerConfig::Tls out;
  for (auto [key, member] :
       {std::pair{"cert", &ServerConfig::Tls::cert}, std::pair{"key", &ServerConfig::Tls::key},
        std::pair{"client_ca", &ServerConfig::Tls::client_ca}}) {
    if (absl::Status status = ReadPath(*tls, key, base_dir, out.*member); !status.ok()) {
      return status;
    }
  }
  if (out.cert.empty() || out.key.empty()) {
    return top.Error("tls",
                     "tls needs both cert and key (a PEM certificate chain and its "
                     "private key)");
  }
  config.tls = std::move(out);
  return absl::OkStatus();
}

absl::Status ReadApiKeys(const YamlMapReader& map, ServerConfig& config) {
  if (!map.Has("api_keys")) return absl::OkStatus();
  absl::StatusOr<std::vector<std::string>> keys = map.StringList("api_keys");
  if (!keys.ok()) return keys.status();
  for (size_t i = 0; i < keys->size(); ++i) {
    for (char c : (*keys)[i]) {
      if (std::isspace(static_cast<unsigned char>(c)) ||
          std::iscntrl(static_cast<unsigned char>(c))) {
        // The key itself is never put in a message.
        return map.Error("api_keys", absl::StrCat("api_keys[", i, "] holds whitespace"));
      }
    }
  }
  config.api_keys = *std::move(keys);
  return absl::OkStatus();
}

absl::Status Parse(const YAML::Node& root, std::string_view file,
                   const std::filesystem::path& base_dir, ServerConfig& config) {
  absl::StatusOr<YamlMapReader> map = YamlMapReader::Read(root, file, "", kKeys);
  if (!map.ok()) return map.status();
  map->RecordOrigins(config.origins);
  for (absl::Status status : {
           map->ReadString("host", config.host),
           map->ReadInt("port", 0, 65535, config.port),
           map->ReadInt("metrics_port", -1, 65535, config.metrics_port),
           map->ReadInt("max_queued_requests", 1, INT_MAX, config.max_queued_requests),
           map->ReadInt("max_queued_tokens", 1, INT64_MAX, config.max_queued_tokens),
           map->ReadInt("max_sessions", 1, INT_MAX, config.max_sessions),
           map->ReadInt("max_receive_message_bytes", 1, INT_MAX, config.max_receive_message_bytes),
           map->ReadInt("max_send_message_bytes", 1, INT_MAX, config.max_send_message_bytes),
           ReadPath(*map, "api_key_file", base_dir, config.api_key_file),
           ReadPath(*map, "models_dir", base_dir, config.models_dir),
       }) {
    if (!status.ok()) return status;
  }
  if (map->Has("drain_timeout")) {
    absl::StatusOr<double> seconds = map->Number("drain_timeout");
    if (!seconds.ok()) return seconds.status();
    if (*seconds < 0) {
      return map->Error("drain_timeout",
                        absl::StrCat("drain_timeout must be >= 0 seconds, got ", *seconds));
    }
    config.drain_timeout = *seconds;
  }
  if (map->Has("tls")) {
    if (absl::Status status = ReadTls(*map, file, base_dir, config); !status.ok()) return status;
  }
  return ReadApiKeys(*map, config);
}

absl::Status Readable(const ServerConfig& config, std::string_view key,
                      const std::filesystem::path& path) {
  if (std::ifstream(path).good()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(config.Where(key), ": ", std::string(key), ": cannot read ", path.string()));
}

}  // namespace

std::string ServerConfig::Where(std::string_view key) const {
  if (auto it = origins.find(key); it != origins.end()) return it->second;
  return file.empty() ? "built-in default" : file;
}

std::span<const std::string_view> ServerConfigKeys() { return kKeys; }
std::span<const std::string_view> TlsConfigKeys() { return kTlsKeys; }

absl::StatusOr<ServerConfig> ParseServerConfig(const YAML::Node& root, std::string_view file,
                                               const std::filesystem::path& base_dir) {
  ServerConfig config;
  config.file = std::string(file);
  try {
    if (absl::Status status = Parse(root, file, base_dir, config); !status.ok()) return status;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(file), ": ", e.what()));
  }
  return config;
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::filesystem::path& file) {
  absl::StatusOr<YAML::Node> root = LoadYamlFile(file.string());
  if (!root.ok()) return root.status();
  return ParseServerConfig(*root, file.string(), file.parent_path());
}

absl::StatusOr<ServerOptions> ToServerOptions(const ServerConfig& config) {
  ServerOptions options;
  options.host = config.host;
  options.port = config.port;
  options.metrics_port = config.metrics_port;
  auto keys = ApiKeys::Create(config.api_keys);
  if (!keys.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.Where("api_keys"), ": ", keys.status().message()));
  }
  if (!config.api_key_file.empty()) {
    keys = ApiKeys::Create(config.api_keys, config.api_key_file);
    if (!keys.ok()) {
      return absl::Status(keys.status().code(), absl::StrCat(config.Where("api_key_file"), ": ",
                                                             keys.status().message()));
    }
  }
  options.api_keys = *std::move(keys);
  if (config.tls.has_value()) {
    for (absl::Status status : {Readable(config, "tls.cert", config.tls->cert),
                                Readable(config, "tls.key", config.tls->key),
                                config.tls->client_ca.empty()
                                    ? absl::OkStatus()
                                    : Readable(config, "tls.client_ca", config.tls->client_ca)}) {
      if (!status.ok()) return status;
    }
    options.tls = TlsOptions{.cert_file = config.tls->cert.string(),
                             .key_file = config.tls->key.string(),
                             .client_ca_file = config.tls->client_ca.string()};
  }
  options.max_receive_message_bytes = config.max_receive_message_bytes;
  options.max_send_message_bytes = config.max_send_message_bytes;
  options.drain_timeout = absl::Seconds(config.drain_timeout);
  return options;
}

}  // namespace loom
