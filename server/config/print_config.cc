#include "server/config/print_config.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace loom {
namespace {

// Writes `key: value`, followed by the origin of `origin_key` when one is recorded.
class Writer {
 public:
  Writer(YAML::Emitter& out, const ConfigOrigins& origins) : out_(out), origins_(origins) {}

  template <typename T>
  void Key(std::string_view key, const T& value, std::string_view origin_key = {}) {
    out_ << YAML::Key << std::string(key) << YAML::Value << value;
    Origin(origin_key.empty() ? key : origin_key);
  }
  void Null(std::string_view key, std::string_view origin_key = {}) {
    out_ << YAML::Key << std::string(key) << YAML::Value << YAML::Null;
    Origin(origin_key.empty() ? key : origin_key);
  }
  // An empty path is null.
  void Path(std::string_view key, const std::filesystem::path& path,
            std::string_view origin_key = {}) {
    if (path.empty()) return Null(key, origin_key);
    Key(key, path.string(), origin_key);
  }
  void Origin(std::string_view key) {
    if (auto it = origins_.find(key); it != origins_.end()) out_ << YAML::Comment(it->second);
  }

 private:
  YAML::Emitter& out_;
  const ConfigOrigins& origins_;
};

void PrintServer(const ServerConfig& server, YAML::Emitter& out) {
  Writer w(out, server.origins);
  w.Key("host", server.host);
  w.Key("port", server.port);
  w.Key("metrics_port", server.metrics_port);
  if (server.tls.has_value()) {
    out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap;
    w.Path("cert", server.tls->cert, "tls.cert");
    w.Path("key", server.tls->key, "tls.key");
    w.Path("client_ca", server.tls->client_ca, "tls.client_ca");
    out << YAML::EndMap;
  } else {
    w.Null("tls");
  }
  out << YAML::Key << "api_keys" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (size_t i = 0; i < server.api_keys.size(); ++i) out << "<redacted>";
  out << YAML::EndSeq;
  w.Origin("api_keys");
  w.Path("api_key_file", server.api_key_file);
  w.Key("max_queued_requests", server.max_queued_requests);
  w.Key("max_queued_tokens", server.max_queued_tokens);
  w.Key("max_sessions", server.max_sessions);
  w.Key("max_receive_message_bytes", server.max_receive_message_bytes);
  w.Key("max_send_message_bytes", server.max_send_message_bytes);
  w.Key("drain_timeout", server.drain_timeout);
  w.Path("models_dir", server.models_dir);
}

void PrintSampling(const ModelYaml& model, YAML::Emitter& out) {
  const SamplingDefaults& s = model.sampling;
  Writer w(out, model.origins);
  out << YAML::Key << "sampling" << YAML::Value << YAML::BeginMap;
  auto optional = [&](std::string_view key, const auto& value) {
    if (value.has_value()) w.Key(key, *value, absl::StrCat("sampling.", std::string(key)));
  };
  optional("temperature", s.temperature);
  optional("top_p", s.top_p);
  optional("top_k", s.top_k);
  optional("min_p", s.min_p);
  optional("repetition_penalty", s.repetition_penalty);
  optional("presence_penalty", s.presence_penalty);
  optional("frequency_penalty", s.frequency_penalty);
  optional("max_tokens", s.max_tokens);
  if (!s.stop.empty()) w.Key("stop", s.stop, "sampling.stop");
  if (!s.stop_token_ids.empty())
    w.Key("stop_token_ids", s.stop_token_ids, "sampling.stop_token_ids");
  out << YAML::EndMap;
}

void PrintModel(const ModelYaml& model, YAML::Emitter& out) {
  Writer w(out, model.origins);
  out << YAML::BeginMap;
  w.Key("name", model.name);
  w.Key("path", std::filesystem::absolute(model.path).lexically_normal().string());
  w.Key("backend", std::string(BackendKindName(model.backend)));
  w.Key("dtype", model.dtype);
  w.Key("tp", model.tp);
  out << YAML::Key << "devices" << YAML::Value << YAML::Flow << model.devices;
  w.Origin("devices");  // a list takes no Key(): it needs the Flow manipulator
  w.Key("replicas", model.replicas);
  w.Key("max_batch_size", model.max_batch_size);
  w.Key("max_prefill_tokens", model.max_prefill_tokens);
  w.Key("session_len", model.session_len);
  if (!model.cache_max_entry_count.has_value()) {
    w.Null("cache_max_entry_count");
  } else if (*model.cache_max_entry_count >= 1) {
    w.Key("cache_max_entry_count", static_cast<int64_t>(*model.cache_max_entry_count));
  } else {
    w.Key("cache_max_entry_count", *model.cache_max_entry_count);
  }
  w.Key("block_size", model.block_size);
  w.Key("enable_prefix_caching", model.enable_prefix_caching);
  w.Key("async_scheduling", model.async_scheduling);
  w.Key("quant_policy", model.quant_policy);
  out << YAML::Key << "chat_template" << YAML::Value;
  if (model.chat_template_yaml.IsDefined() && !model.chat_template_yaml.IsNull()) {
    out << model.chat_template_yaml;
  } else {
    out << YAML::Null;
  }
  w.Origin("chat_template");
  PrintSampling(model, out);
  out << YAML::EndMap;
}

}  // namespace

std::string PrintServeConfig(const ServeConfig& config) {
  YAML::Emitter out;
  out.SetFloatPrecision(7);    // a float's digits: 0.7f prints as 0.7
  out.SetDoublePrecision(15);  // 0.1 prints as 0.1
  out.SetNullFormat(YAML::LowerNull);
  out << YAML::Comment(absl::StrCat(
      "loom serve: the merged configuration (flags over ",
      config.server.file.empty() ? "no server.yaml" : config.server.file, " over defaults)"));
  out << YAML::BeginMap;
  PrintServer(config.server, out);
  out << YAML::Key << "models" << YAML::Value << YAML::BeginSeq;
  for (const ModelYaml& model : config.models) PrintModel(model, out);
  out << YAML::EndSeq << YAML::EndMap;
  return absl::StrCat(out.c_str(), "\n");
}

}  // namespace loom
