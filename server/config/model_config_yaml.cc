#include "server/config/model_config_yaml.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cmath>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/chat/chat_template_yaml.h"
#include "engine/chat/yaml_fields.h"
#include "kernels/backend_factory.h"
#include "kernels/dtype.h"
#include "server/request_builder.h"

namespace loom {
namespace {

constexpr std::array<std::string_view, 17> kKeys = {"name",
                                                    "path",
                                                    "backend",
                                                    "dtype",
                                                    "tp",
                                                    "devices",
                                                    "replicas",
                                                    "max_batch_size",
                                                    "max_prefill_tokens",
                                                    "session_len",
                                                    "cache_max_entry_count",
                                                    "block_size",
                                                    "enable_prefix_caching",
                                                    "async_scheduling",
                                                    "quant_policy",
                                                    "chat_template",
                                                    "sampling"};
constexpr std::array<std::string_view, 10> kSamplingKeys = {"temperature",
                                                            "top_p",
                                                            "top_k",
                                                            "min_p",
                                                            "repetition_penalty",
                                                            "presence_penalty",
                                                            "frequency_penalty",
                                                            "max_tokens",
                                                            "stop",
                                                            "stop_token_ids"};
constexpr std::array<std::string_view, 4> kDtypes = {"auto", "float32", "float16", "bfloat16"};
constexpr std::array<std::string_view, 2> kBackends = {"cpu", "cuda"};

// "; did you mean 'x'?" for a near miss, else "".
std::string Suggestion(std::string_view word, std::span<const std::string_view> names) {
  std::optional<std::string_view> closest = yaml::ClosestName(word, names);
  return closest ? absl::StrCat("; did you mean '", std::string(*closest), "'?") : "";
}

std::string OneOf(std::span<const std::string_view> names) {
  return absl::StrJoin(names, ", ", [](std::string* out, std::string_view s) { out->append(s); });
}

// A name from the closed set `names`.
absl::Status ReadEnum(const YamlMapReader& map, std::string_view key,
                      std::span<const std::string_view> names, std::string& out) {
  if (!map.Has(key)) return absl::OkStatus();
  absl::StatusOr<std::string> value = map.String(key);
  if (!value.ok()) return value.status();
  if (std::find(names.begin(), names.end(), *value) == names.end()) {
    return map.Error(key, absl::StrCat(map.Name(key), " must be one of ", OneOf(names), ", not '",
                                       *value, "'", Suggestion(*value, names)));
  }
  out = *std::move(value);
  return absl::OkStatus();
}

// A number in [min, max], where an exclusive bound is excluded; `range` says so in words.
absl::Status ReadFloat(const YamlMapReader& map, std::string_view key, double min, bool min_open,
                       double max, std::string_view range, std::optional<float>& out) {
  if (!map.Has(key)) return absl::OkStatus();
  absl::StatusOr<double> value = map.Number(key);
  if (!value.ok()) return value.status();
  if (*value < min || (min_open && *value == min) || *value > max) {
    return map.Error(
        key, absl::StrCat(map.Name(key), " must be ", std::string(range), ", got ", *value));
  }
  out = static_cast<float>(*value);
  return absl::OkStatus();
}

absl::Status ReadSampling(const YAML::Node& node, std::string_view file, ModelYaml& model) {
  absl::StatusOr<YamlMapReader> map = YamlMapReader::Read(node, file, "sampling", kSamplingKeys);
  if (!map.ok()) return map.status();
  map->RecordOrigins(model.origins);
  SamplingDefaults& s = model.sampling;
  constexpr double kInf = HUGE_VAL;
  for (absl::Status status : {
           ReadFloat(*map, "temperature", 0, false, kInf, ">= 0", s.temperature),
           ReadFloat(*map, "top_p", 0, true, 1, "in (0, 1]", s.top_p),
           ReadFloat(*map, "min_p", 0, false, 1, "in [0, 1]", s.min_p),
           ReadFloat(*map, "repetition_penalty", 0, true, kInf, "> 0", s.repetition_penalty),
           ReadFloat(*map, "presence_penalty", -2, false, 2, "in [-2, 2]", s.presence_penalty),
           ReadFloat(*map, "frequency_penalty", -2, false, 2, "in [-2, 2]", s.frequency_penalty),
       }) {
    if (!status.ok()) return status;
  }
  if (map->Has("top_k")) {
    int top_k = 0;
    if (auto status = map->ReadInt("top_k", 0, INT_MAX, top_k); !status.ok()) return status;
    s.top_k = top_k;
  }
  if (map->Has("max_tokens")) {
    int max_tokens = 0;
    if (auto status = map->ReadInt("max_tokens", 1, INT_MAX, max_tokens); !status.ok()) {
      return status;
    }
    s.max_tokens = max_tokens;
  }
  if (map->Has("stop")) {
    absl::StatusOr<std::vector<std::string>> stop = map->StringList("stop");
    if (!stop.ok()) return stop.status();
    if (stop->size() > static_cast<size_t>(kMaxStopStrings)) {
      return map->Error("stop", absl::StrCat("sampling.stop holds at most ", kMaxStopStrings,
                                             " strings, got ", stop->size()));
    }
    for (size_t i = 0; i < stop->size(); ++i) {
      if ((*stop)[i].size() > kMaxStopStringBytes) {
        return map->Error("stop", absl::StrCat("sampling.stop[", i, "] is ", (*stop)[i].size(),
                                               " bytes; at most ", kMaxStopStringBytes));
      }
    }
    s.stop = *std::move(stop);
  }
  if (map->Has("stop_token_ids")) {
    absl::StatusOr<std::vector<int64_t>> ids = map->IntList("stop_token_ids");
    if (!ids.ok()) return ids.status();
    s.stop_token_ids.clear();
    for (size_t i = 0; i < ids->size(); ++i) {
      if ((*ids)[i] < 0 || (*ids)[i] > INT32_MAX) {
        return map->Error("stop_token_ids",
                          absl::StrCat("sampling.stop_token_ids[", i,
                                       "] must be a token id >= 0, got ", (*ids)[i]));
      }
      s.stop_token_ids.push_back(static_cast<int32_t>((*ids)[i]));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadCacheMaxEntryCount(const YamlMapReader& map, ModelYaml& model) {
  if (!map.Has("cache_max_entry_count")) return absl::OkStatus();
  if (map.Value("cache_max_entry_count").IsNull()) {
    model.cache_max_entry_count.reset();
    return absl::OkStatus();
  }
  absl::StatusOr<double> value = map.Number("cache_max_entry_count");
  if (!value.ok()) return value.status();
  if (*value <= 0 || (*value >= 1 && (*value != std::floor(*value) || *value > INT_MAX))) {
    return map.Error("cache_max_entry_count",
                     absl::StrCat("cache_max_entry_count must be a fraction in (0, 1) or a whole "
                                  "number of KV blocks >= 1, got ",
                                  *value));
  }
  model.cache_max_entry_count = *value;
  return absl::OkStatus();
}

absl::Status ReadDevices(const YamlMapReader& map, ModelYaml& model) {
  if (!map.Has("devices")) return absl::OkStatus();
  absl::StatusOr<std::vector<int64_t>> ids = map.IntList("devices");
  if (!ids.ok()) return ids.status();
  std::set<int64_t> seen;
  model.devices.clear();
  for (size_t i = 0; i < ids->size(); ++i) {
    const int64_t id = (*ids)[i];
    if (id < 0 || id > INT_MAX) {
      return map.Error("devices",
                       absl::StrCat("devices[", i, "] must be a GPU index >= 0, got ", id));
    }
    if (!seen.insert(id).second) {
      return map.Error("devices", absl::StrCat("devices lists GPU ", id, " twice"));
    }
    model.devices.push_back(static_cast<int>(id));
  }
  return absl::OkStatus();
}

// A model name is the proto's `model` and a metrics label: printable, no whitespace.
absl::Status CheckName(const YamlMapReader& map, const std::string& name) {
  for (char c : name) {
    if (std::isspace(static_cast<unsigned char>(c)) ||
        std::iscntrl(static_cast<unsigned char>(c))) {
      return map.Error("name", absl::StrCat("name '", name, "' must not hold whitespace"));
    }
  }
  return absl::OkStatus();
}

absl::Status Parse(const YAML::Node& root, std::string_view file,
                   const std::filesystem::path& base_dir, ModelYaml& model) {
  absl::StatusOr<YamlMapReader> map = YamlMapReader::Read(root, file, "", kKeys);
  if (!map.ok()) return map.status();
  map->RecordOrigins(model.origins);

  model.name = std::filesystem::path(std::string(file)).stem().string();
  if (auto status = map->ReadString("name", model.name); !status.ok()) return status;
  if (auto status = CheckName(*map, model.name); !status.ok()) return status;
  if (!map->Has("path")) {
    return absl::InvalidArgumentError(
        absl::StrCat(yaml::Location(file, root),
                     ": path is required: the model's Hugging Face directory "
                     "(relative to this file, or absolute)"));
  }
  std::string path;
  if (auto status = map->ReadString("path", path); !status.ok()) return status;
  const std::filesystem::path p(path);
  model.path = (p.is_absolute() ? p : base_dir / p).lexically_normal();

  std::string backend(BackendKindName(model.backend));
  for (absl::Status status : {
           ReadEnum(*map, "backend", kBackends, backend),
           ReadEnum(*map, "dtype", kDtypes, model.dtype),
           map->ReadInt("tp", 1, INT_MAX, model.tp),
           map->ReadInt("replicas", 1, INT_MAX, model.replicas),
           map->ReadInt("max_batch_size", 1, INT_MAX, model.max_batch_size),
           map->ReadInt("max_prefill_tokens", 1, INT_MAX, model.max_prefill_tokens),
           map->ReadInt("session_len", 0, INT_MAX, model.session_len),
           map->ReadInt("block_size", 1, INT_MAX, model.block_size),
           map->ReadBool("enable_prefix_caching", model.enable_prefix_caching),
           map->ReadBool("async_scheduling", model.async_scheduling),
           ReadDevices(*map, model),
           ReadCacheMaxEntryCount(*map, model),
       }) {
    if (!status.ok()) return status;
  }
  model.backend = backend == "cuda" ? BackendKind::kCuda : BackendKind::kCpu;
  if (map->Has("quant_policy")) {
    absl::StatusOr<int64_t> policy = map->Int("quant_policy");
    if (!policy.ok()) return policy.status();
    if (*policy != 0 && *policy != 4 && *policy != 8) {
      return map->Error("quant_policy",
                        absl::StrCat("quant_policy must be 0 (off), 4 or 8 (bits of the KV "
                                     "cache), got ",
                                     *policy));
    }
    model.quant_policy = static_cast<int>(*policy);
  }
  if (map->Has("chat_template")) {
    const YAML::Node node = map->Value("chat_template");
    absl::StatusOr<ChatTemplateOverride> chat = ParseChatTemplateOverride(node, file);
    if (!chat.ok()) return chat.status();
    model.chat_template = *std::move(chat);
    model.chat_template_yaml = YAML::Clone(node);
  }
  if (map->Has("sampling")) {
    if (auto status = ReadSampling(map->Value("sampling"), file, model); !status.ok()) {
      return status;
    }
  }

  if (!model.devices.empty()) {
    if (model.backend != BackendKind::kCuda) {
      return map->Error("devices",
                        "devices lists GPUs, which only backend: cuda uses; remove "
                        "it or set backend: cuda");
    }
    const int64_t wanted = static_cast<int64_t>(model.tp) * model.replicas;
    if (static_cast<int64_t>(model.devices.size()) != wanted) {
      return map->Error("devices", absl::StrCat("devices lists ", model.devices.size(),
                                                " GPUs; tp x replicas = ", model.tp, " x ",
                                                model.replicas, " needs ", wanted));
    }
  }
  return absl::OkStatus();
}

absl::Status Unsupported(const ModelYaml& model, std::string_view key, std::string_view what,
                         std::string_view why) {
  return absl::UnimplementedError(absl::StrCat(model.Where(key), ": ", std::string(what),
                                               " is not supported yet by this build (",
                                               std::string(why), ")"));
}

// "12.5 GiB", or MiB below a GiB.
std::string Bytes(double bytes) {
  constexpr double kGiB = 1ull << 30;
  constexpr double kMiB = 1ull << 20;
  return bytes >= kGiB ? absl::StrFormat("%.1f GiB", bytes / kGiB)
                       : absl::StrFormat("%.1f MiB", bytes / kMiB);
}

}  // namespace

std::string_view BackendKindName(BackendKind kind) {
  return kind == BackendKind::kCuda ? "cuda" : "cpu";
}

std::string ModelYaml::Where(std::string_view key) const {
  if (auto it = origins.find(key); it != origins.end()) return it->second;
  return file.empty() ? path.string() : file;
}

std::span<const std::string_view> ModelYamlKeys() { return kKeys; }
std::span<const std::string_view> SamplingYamlKeys() { return kSamplingKeys; }

absl::StatusOr<ModelYaml> ParseModelYaml(const YAML::Node& root, std::string_view file,
                                         const std::filesystem::path& base_dir) {
  ModelYaml model;
  model.file = std::string(file);
  try {
    if (absl::Status status = Parse(root, file, base_dir, model); !status.ok()) return status;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(file), ": ", e.what()));
  }
  return model;
}

absl::StatusOr<ModelYaml> LoadModelYaml(const std::filesystem::path& file) {
  absl::StatusOr<YAML::Node> root = LoadYamlFile(file.string());
  if (!root.ok()) return root.status();
  return ParseModelYaml(*root, file.string(), file.parent_path());
}

absl::StatusOr<std::vector<ModelYaml>> LoadModelYamlDir(const std::filesystem::path& dir) {
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    return absl::NotFoundError(absl::StrCat("models_dir ", dir.string(), " is not a directory"));
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
  }
  if (error) {
    return absl::NotFoundError(absl::StrCat("models_dir ", dir.string(), ": ", error.message()));
  }
  if (files.empty()) {
    return absl::NotFoundError(
        absl::StrCat("models_dir ", dir.string(), " holds no model file (*.yaml)"));
  }
  std::sort(files.begin(), files.end());
  std::vector<ModelYaml> models;
  for (const auto& file : files) {
    absl::StatusOr<ModelYaml> model = LoadModelYaml(file);
    if (!model.ok()) return model.status();
    models.push_back(*std::move(model));
  }
  if (absl::Status status = CheckUniqueModelNames(models); !status.ok()) return status;
  return models;
}

ModelYaml ModelYamlForDirectory(const std::filesystem::path& dir, std::string name) {
  ModelYaml model;
  model.path = dir;
  model.name = std::move(name);
  if (model.name.empty()) model.name = dir.filename().string();
  if (model.name.empty()) model.name = dir.parent_path().filename().string();
  return model;
}

absl::Status CheckUniqueModelNames(std::span<const ModelYaml> models) {
  for (size_t i = 0; i < models.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (models[i].name == models[j].name) {
        return absl::InvalidArgumentError(absl::StrCat(
            models[i].Where("name"), ": model name '", models[i].name, "' is already used by ",
            models[j].Where("name"), "; model names must be unique"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSupportedByThisBuild(const ModelYaml& model) {
  if (model.backend == BackendKind::kCuda && !CudaBackendBuilt()) {
    return Unsupported(model, "backend", "backend: cuda",
                       "this loom was built without CUDA (configure with -DLOOM_CUDA=ON)");
  }
  if (model.backend == BackendKind::kCpu && model.dtype != "auto" && model.dtype != "float32") {
    return Unsupported(model, "dtype", absl::StrCat("dtype: ", model.dtype),
                       "the cpu backend computes in float32: use auto or float32");
  }
  if (model.backend == BackendKind::kCuda && model.dtype == "float32") {
    return Unsupported(model, "dtype", "dtype: float32",
                       "the cuda backend computes in bfloat16 or float16: use auto, bfloat16 or "
                       "float16");
  }
  if (model.tp > 1) {
    return Unsupported(model, "tp", absl::StrCat("tp: ", model.tp),
                       "tensor parallelism is not implemented yet");
  }
  if (model.replicas > 1) {
    return Unsupported(model, "replicas", absl::StrCat("replicas: ", model.replicas),
                       "each model runs one engine");
  }
  if (model.quant_policy != 0) {
    return Unsupported(model, "quant_policy", absl::StrCat("quant_policy: ", model.quant_policy),
                       "the KV cache is not quantized yet");
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelLaunch> PlanModelLaunch(const ModelYaml& model, const ServerConfig& server,
                                            const ModelConfig& model_config,
                                            uint64_t memory_bytes) {
  // What cannot fit.
  const std::string config_json = (model.path / "config.json").string();
  const int max_positions = model_config.max_position_embeddings;
  const int session_len = model.session_len > 0 ? model.session_len : max_positions;
  if (session_len > max_positions) {
    return absl::InvalidArgumentError(absl::StrCat(
        model.Where("session_len"), ": session_len ", session_len,
        " exceeds the model's max_position_embeddings ", max_positions, " (", config_json, ")"));
  }
  const int64_t block_size = model.block_size;
  const int64_t blocks_per_session = (session_len + block_size - 1) / block_size;
  const int64_t default_blocks = blocks_per_session * model.max_batch_size;
  int64_t num_blocks = default_blocks;
  // On a GPU a fraction (or nothing: LMDeploy's 0.8) is a share of the memory the weights
  // leave free, which only loading the model measures: LoadModel sizes that pool.
  const bool gpu_fraction =
      model.backend == BackendKind::kCuda &&
      (!model.cache_max_entry_count.has_value() || *model.cache_max_entry_count < 1);
  double kv_cache_free_fraction = EngineOptions{}.kv_cache_free_fraction;
  if (gpu_fraction) {
    if (model.cache_max_entry_count.has_value())
      kv_cache_free_fraction = *model.cache_max_entry_count;
  } else if (model.cache_max_entry_count.has_value()) {
    const double count = *model.cache_max_entry_count;
    num_blocks =
        count >= 1
            ? static_cast<int64_t>(count)
            : std::max<int64_t>(
                  1, static_cast<int64_t>(std::floor(count * static_cast<double>(default_blocks))));
  }
  if (num_blocks > INT_MAX) {
    return absl::InvalidArgumentError(absl::StrCat(
        model.Where("cache_max_entry_count"), ": the KV pool of ", num_blocks,
        " blocks (max_batch_size ", model.max_batch_size, " x ", blocks_per_session,
        " blocks of session_len ", session_len, ") is more blocks than loom can address"));
  }
  if (!gpu_fraction && num_blocks * block_size < session_len) {
    return absl::InvalidArgumentError(
        absl::StrCat(model.Where("cache_max_entry_count"), ": the KV pool of ", num_blocks,
                     " blocks x ", block_size, " tokens holds ", num_blocks * block_size,
                     " tokens, fewer than session_len ", session_len,
                     ", so not even one full-length session fits; set cache_max_entry_count to "
                     "at least ",
                     blocks_per_session, " blocks or lower session_len"));
  }
  // In double: absurd pools must not overflow into small ones.
  const double kv_bytes = 2.0 * model_config.num_hidden_layers * static_cast<double>(num_blocks) *
                          static_cast<double>(block_size) * model_config.num_key_value_heads *
                          model_config.head_dim * static_cast<double>(DTypeSize(DType::kF32));
  if (model.backend == BackendKind::kCpu && memory_bytes > 0 &&
      kv_bytes > static_cast<double>(memory_bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat(model.Where("cache_max_entry_count"), ": the KV pool of ", num_blocks,
                     " blocks x ", block_size, " tokens needs ", Bytes(kv_bytes),
                     " (float32 keys and values of ", model_config.num_hidden_layers, " layers x ",
                     model_config.num_key_value_heads, " KV heads x ", model_config.head_dim,
                     "), more than this machine's ", Bytes(static_cast<double>(memory_bytes)),
                     " of memory; lower cache_max_entry_count, max_batch_size or session_len"));
  }
  if (model.sampling.max_tokens.has_value() && *model.sampling.max_tokens > session_len) {
    return absl::InvalidArgumentError(absl::StrCat(
        model.Where("sampling.max_tokens"), ": sampling.max_tokens ", *model.sampling.max_tokens,
        " exceeds session_len ", session_len, " (prompt + output)"));
  }
  for (size_t i = 0; i < model.sampling.stop_token_ids.size(); ++i) {
    const int32_t id = model.sampling.stop_token_ids[i];
    if (id >= model_config.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat(model.Where("sampling.stop_token_ids"), ": sampling.stop_token_ids[", i,
                       "] ", id, " is outside the model's vocabulary [0, ", model_config.vocab_size,
                       ") (", config_json, ")"));
    }
  }
  if (absl::Status status = CheckSupportedByThisBuild(model); !status.ok()) return status;

  ModelLaunch launch;
  launch.dir = model.path;
  launch.name = model.name;
  launch.engine = EngineOptions{.block_size = model.block_size,
                                .session_len = session_len,
                                .max_batch_size = model.max_batch_size,
                                .max_prefill_tokens = model.max_prefill_tokens,
                                .num_blocks = gpu_fraction ? 0 : static_cast<int>(num_blocks),
                                .kv_cache_free_fraction = kv_cache_free_fraction};
  launch.config = EngineConfig{.enable_prefix_caching = model.enable_prefix_caching,
                               .max_queued_requests = server.max_queued_requests,
                               .max_queued_tokens = server.max_queued_tokens,
                               .max_sessions = server.max_sessions,
                               .async_scheduling = model.async_scheduling};
  launch.served = ServedModelOptions{
      .chat_template = model.chat_template,
      .sampling = model.sampling,
      .backend = std::string(BackendKindName(model.backend)),
      .device = model.devices.empty() ? 0 : model.devices.front(),
      .dtype = model.dtype,
  };
  return launch;
}

}  // namespace loom
