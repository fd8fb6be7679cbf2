#include "engine/model/model_config.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/model/read_file.h"
#include "nlohmann/json.hpp"

namespace loom {
namespace {

using Json = nlohmann::json;

struct Family {
  std::string_view architecture;
  std::string_view model_type;
};

constexpr Family kFamilies[] = {
    {"LlamaForCausalLM", "llama"},
    {"MistralForCausalLM", "mistral"},
    {"Qwen2ForCausalLM", "qwen2"},
};
constexpr char kSupportedArchitectures[] = "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM";
constexpr char kSupportedModelTypes[] = "llama, mistral, qwen2";
constexpr char kSupportedRopeTypes[] = "default, linear, dynamic, llama3";

// config.json files are a few KB; anything this large is not one.
constexpr std::uintmax_t kMaxConfigBytes = 16 << 20;

// For messages: never throws (even on strings that are not UTF-8), and stays short.
std::string Dump(const Json& value) {
  constexpr size_t kMaxChars = 80;
  std::string text =
      value.dump(/*indent=*/-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
  if (text.size() > kMaxChars) text = absl::StrCat(text.substr(0, kMaxChars), "...");
  return text;
}

// Reads typed keys of one JSON object. The first error is kept and later reads return
// nullopt/defaults, so a parser reads every key it needs and checks status() once; the
// message then names the first bad key in reading order.
class ConfigReader {
 public:
  // `prefix` names the enclosing object in messages ("rope_scaling.").
  ConfigReader(std::string source, const Json& object, std::string prefix = "")
      : source_(std::move(source)), object_(object), prefix_(std::move(prefix)) {}

  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }
  const std::string& source() const { return source_; }
  void Fail(absl::Status status) {
    if (status_.ok()) status_ = std::move(status);
  }
  void FailKey(std::string_view key, absl::string_view message) {
    Fail(absl::InvalidArgumentError(
        absl::StrCat(source_, ": key '", prefix_, std::string(key), "' ", message)));
  }

  // Absent and null mean the same: transformers writes null for "not set".
  const Json* Find(std::string_view key) const {
    const auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::optional<int64_t> Integer(std::string_view key, int64_t min, int64_t max) {
    const Json* value = Find(key);
    if (value == nullptr || !ok()) return std::nullopt;
    return ToInteger(key, *value, min, max);
  }
  int RequiredInt(std::string_view key, int min) {
    if (ok() && Find(key) == nullptr) {
      Fail(absl::InvalidArgumentError(
          absl::StrCat(source_, ": missing required key '", prefix_, std::string(key), "'")));
    }
    return OptionalInt(key, min).value_or(0);
  }
  std::optional<int> OptionalInt(std::string_view key, int min) {
    const std::optional<int64_t> value = Integer(key, min, std::numeric_limits<int>::max());
    if (!value) return std::nullopt;
    return static_cast<int>(*value);
  }

  // A finite number (integer or not) that is > 0 when `positive`, else >= 0.
  std::optional<double> Number(std::string_view key, bool positive) {
    const Json* value = Find(key);
    if (value == nullptr || !ok()) return std::nullopt;
    if (!value->is_number()) {
      FailKey(key, absl::StrCat("must be a number, got ", value->type_name(), " ", Dump(*value)));
      return std::nullopt;
    }
    const auto number = value->get<double>();
    if (!std::isfinite(number) || number < 0 || (positive && number == 0)) {
      FailKey(key, absl::StrCat("must be ", positive ? "> 0" : ">= 0", ", got ", Dump(*value)));
      return std::nullopt;
    }
    return number;
  }
  double RequiredNumber(std::string_view key, bool positive) {
    if (ok() && Find(key) == nullptr) {
      Fail(absl::InvalidArgumentError(
          absl::StrCat(source_, ": missing required key '", prefix_, std::string(key), "'")));
    }
    return Number(key, positive).value_or(0);
  }
  // As Number(), narrowed to float.
  std::optional<float> Float(std::string_view key, bool positive) {
    const std::optional<double> value = Number(key, positive);
    if (!value) return std::nullopt;
    if (*value > FLT_MAX) {
      FailKey(key, absl::StrCat("is too large, got ", *value));
      return std::nullopt;
    }
    return static_cast<float>(*value);
  }

  std::optional<bool> Bool(std::string_view key) {
    const Json* value = Find(key);
    if (value == nullptr || !ok()) return std::nullopt;
    if (!value->is_boolean()) {
      FailKey(key,
              absl::StrCat("must be true or false, got ", value->type_name(), " ", Dump(*value)));
      return std::nullopt;
    }
    return value->get<bool>();
  }

  std::optional<std::string> String(std::string_view key) {
    const Json* value = Find(key);
    if (value == nullptr || !ok()) return std::nullopt;
    if (!value->is_string()) {
      FailKey(key, absl::StrCat("must be a string, got ", value->type_name(), " ", Dump(*value)));
      return std::nullopt;
    }
    return value->get<std::string>();
  }

  // A token id, or a list of them (eos_token_id takes both forms).
  std::optional<std::vector<int32_t>> TokenIds(std::string_view key) {
    const Json* value = Find(key);
    if (value == nullptr || !ok()) return std::nullopt;
    constexpr int64_t kMaxId = std::numeric_limits<int32_t>::max();
    std::vector<int32_t> ids;
    if (value->is_array()) {
      for (const Json& element : *value) {
        const std::optional<int64_t> id = ToInteger(key, element, 0, kMaxId);
        if (!id) return std::nullopt;
        ids.push_back(static_cast<int32_t>(*id));
      }
    } else if (value->is_number()) {
      const std::optional<int64_t> id = ToInteger(key, *value, 0, kMaxId);
      if (!id) return std::nullopt;
      ids.push_back(static_cast<int32_t>(*id));
    } else {
      FailKey(key, absl::StrCat("must be an integer or a list of integers, got ",
                                value->type_name(), " ", Dump(*value)));
      return std::nullopt;
    }
    return ids;
  }

 private:
  std::optional<int64_t> ToInteger(std::string_view key, const Json& value, int64_t min,
                                   int64_t max) {
    if (!value.is_number_integer()) {
      FailKey(key, absl::StrCat("must be an integer, got ", value.type_name(), " ", Dump(value)));
      return std::nullopt;
    }
    // Unsigned JSON integers may exceed int64; compare them before narrowing.
    const bool in_range =
        value.is_number_unsigned()
            ? value.get<uint64_t>() <= static_cast<uint64_t>(max) &&
                  (min <= 0 || value.get<uint64_t>() >= static_cast<uint64_t>(min))
            : value.get<int64_t>() >= min && value.get<int64_t>() <= max;
    if (!in_range) {
      FailKey(key, absl::StrCat("must be in [", min, ", ", max, "], got ", Dump(value)));
      return std::nullopt;
    }
    return value.get<int64_t>();
  }

  std::string source_;
  const Json& object_;
  std::string prefix_;
  absl::Status status_;
};

absl::StatusOr<Json> ParseObject(std::string_view text, const std::string& source_name) {
  Json root = Json::parse(text.begin(), text.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": not valid JSON"));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": expected a JSON object, got ", root.type_name()));
  }
  return root;
}

// The family comes from architectures[0], or from model_type when a config lacks
// "architectures".
const Family* ResolveFamily(ConfigReader& reader) {
  const std::string& source = reader.source();
  if (const Json* architectures = reader.Find("architectures")) {
    if (!architectures->is_array() || architectures->empty() || !(*architectures)[0].is_string()) {
      reader.FailKey("architectures", absl::StrCat("must be a non-empty list of strings, got ",
                                                   Dump(*architectures)));
      return nullptr;
    }
    const auto& name = (*architectures)[0].get_ref<const std::string&>();
    for (const Family& family : kFamilies) {
      if (family.architecture == name) return &family;
    }
    reader.Fail(
        absl::InvalidArgumentError(absl::StrCat(source, ": unsupported architecture '", name,
                                                "' (supported: ", kSupportedArchitectures, ")")));
    return nullptr;
  }
  const std::optional<std::string> model_type = reader.String("model_type");
  if (!reader.ok()) return nullptr;
  if (!model_type) {
    reader.Fail(
        absl::InvalidArgumentError(absl::StrCat(source, ": missing required key 'architectures'")));
    return nullptr;
  }
  for (const Family& family : kFamilies) {
    if (family.model_type == *model_type) return &family;
  }
  reader.Fail(
      absl::InvalidArgumentError(absl::StrCat(source, ": unsupported model_type '", *model_type,
                                              "' (supported: ", kSupportedModelTypes, ")")));
  return nullptr;
}

// rope_theta and the scaling. transformers 5 writes both into "rope_parameters";
// transformers 4 writes a top-level "rope_theta" and "rope_scaling" (null when unscaled).
void ReadRope(ConfigReader& reader, ModelConfig& config) {
  config.rope_theta = reader.Number("rope_theta", /*positive=*/true).value_or(10000.0);
  std::string key = "rope_parameters";
  const Json* params = reader.Find(key);
  if (params == nullptr) {
    key = "rope_scaling";
    params = reader.Find(key);
  }
  if (params == nullptr || !reader.ok()) return;
  if (!params->is_object()) {
    reader.FailKey(
        key, absl::StrCat("must be an object, got ", params->type_name(), " ", Dump(*params)));
    return;
  }
  ConfigReader rope(reader.source(), *params, absl::StrCat(key, "."));
  if (std::optional<double> theta = rope.Number("rope_theta", /*positive=*/true)) {
    config.rope_theta = *theta;
  }
  // "type" is the older name of the key; configs written before rope_type still use it.
  std::string type_key = "rope_type";
  std::optional<std::string> type_name = rope.String(type_key);
  if (!type_name && rope.ok()) {
    type_key = "type";
    type_name = rope.String(type_key);
  }
  if (!rope.ok()) return reader.Fail(rope.status());
  if (!type_name) {
    return reader.Fail(absl::InvalidArgumentError(
        absl::StrCat(reader.source(), ": key '", key, "' has neither 'rope_type' nor 'type'")));
  }

  RopeScaling& scaling = config.rope_scaling;
  if (*type_name == "default") {
    scaling.type = RopeType::kDefault;
  } else if (*type_name == "linear") {
    scaling.type = RopeType::kLinear;
    scaling.factor = rope.RequiredNumber("factor", /*positive=*/true);
  } else if (*type_name == "dynamic") {
    scaling.type = RopeType::kDynamic;
    scaling.factor = rope.RequiredNumber("factor", /*positive=*/true);
    scaling.original_max_position_embeddings =
        rope.OptionalInt("original_max_position_embeddings", 1)
            .value_or(config.max_position_embeddings);
  } else if (*type_name == "llama3") {
    scaling.type = RopeType::kLlama3;
    scaling.factor = rope.RequiredNumber("factor", /*positive=*/true);
    scaling.low_freq_factor = rope.RequiredNumber("low_freq_factor", /*positive=*/true);
    scaling.high_freq_factor = rope.RequiredNumber("high_freq_factor", /*positive=*/true);
    scaling.original_max_position_embeddings =
        rope.RequiredInt("original_max_position_embeddings", 1);
    // The llama3 formula divides by (high_freq_factor - low_freq_factor).
    if (rope.ok() && scaling.high_freq_factor <= scaling.low_freq_factor) {
      rope.FailKey("high_freq_factor",
                   absl::StrCat("must exceed low_freq_factor (", scaling.low_freq_factor, "), got ",
                                scaling.high_freq_factor));
    }
  } else {
    return reader.Fail(absl::UnimplementedError(
        absl::StrCat(reader.source(), ": ", key, ".", type_key, " '", *type_name,
                     "' is not supported (supported: ", kSupportedRopeTypes, ")")));
  }
  reader.Fail(rope.status());
}

void ReadBiasesAndWindow(ConfigReader& reader, std::string_view model_type, ModelConfig& config) {
  if (model_type == "qwen2") {
    config.qkv_bias = true;
    config.o_bias = false;
    config.mlp_bias = false;
    // Qwen2's window applies only to layers past max_window_layers; official Qwen2
    // checkpoints leave it off, and half-applying it would be silently wrong.
    if (reader.Bool("use_sliding_window").value_or(false)) {
      reader.Fail(absl::UnimplementedError(
          absl::StrCat(reader.source(),
                       ": key 'use_sliding_window' true (per-layer sliding window) is "
                       "not supported")));
    }
    return;
  }
  const bool attention_bias = reader.Bool("attention_bias").value_or(false);
  config.qkv_bias = attention_bias;
  config.o_bias = attention_bias;
  if (model_type == "llama") {
    config.mlp_bias = reader.Bool("mlp_bias").value_or(false);
  } else {  // mistral
    config.sliding_window = reader.OptionalInt("sliding_window", 1);
  }
}

void ReadDType(ConfigReader& reader, ModelConfig& config) {
  std::string key = "dtype";
  std::optional<std::string> name = reader.String(key);
  if (!name) {
    key = "torch_dtype";
    name = reader.String(key);
  }
  if (!name) return;  // transformers' default, kept in ModelConfig::dtype
  if (*name == "bfloat16") {
    config.dtype = DType::kBF16;
  } else if (*name == "float16") {
    config.dtype = DType::kF16;
  } else if (*name == "float32") {
    config.dtype = DType::kF32;
  } else {
    reader.FailKey(key, absl::StrCat("must be bfloat16, float16 or float32, got '", *name, "'"));
  }
}

void ReadShape(ConfigReader& reader, ModelConfig& config) {
  config.vocab_size = reader.RequiredInt("vocab_size", 1);
  config.hidden_size = reader.RequiredInt("hidden_size", 1);
  config.intermediate_size = reader.RequiredInt("intermediate_size", 1);
  config.num_hidden_layers = reader.RequiredInt("num_hidden_layers", 1);
  config.num_attention_heads = reader.RequiredInt("num_attention_heads", 1);
  config.num_key_value_heads =
      reader.OptionalInt("num_key_value_heads", 1).value_or(config.num_attention_heads);
  const std::optional<int> head_dim = reader.OptionalInt("head_dim", 1);
  config.max_position_embeddings = reader.RequiredInt("max_position_embeddings", 1);
  if (!reader.ok()) return;

  const std::string& source = reader.source();
  if (config.num_attention_heads % config.num_key_value_heads != 0) {
    return reader.Fail(absl::InvalidArgumentError(absl::StrCat(
        source, ": key 'num_attention_heads' (", config.num_attention_heads,
        ") must be a multiple of key 'num_key_value_heads' (", config.num_key_value_heads, ")")));
  }
  if (head_dim) {
    config.head_dim = *head_dim;
  } else if (config.hidden_size % config.num_attention_heads != 0) {
    return reader.Fail(absl::InvalidArgumentError(
        absl::StrCat(source, ": key 'hidden_size' (", config.hidden_size,
                     ") is not divisible by key 'num_attention_heads' (",
                     config.num_attention_heads, ") and key 'head_dim' is not given")));
  } else {
    config.head_dim = config.hidden_size / config.num_attention_heads;
  }
  if (config.head_dim % 2 != 0) {
    reader.FailKey("head_dim",
                   absl::StrCat("must be even (RoPE rotates pairs), got ", config.head_dim));
  }
}

}  // namespace

std::string_view RopeTypeName(RopeType type) {
  switch (type) {
    case RopeType::kDefault:
      return "default";
    case RopeType::kLinear:
      return "linear";
    case RopeType::kDynamic:
      return "dynamic";
    case RopeType::kLlama3:
      return "llama3";
  }
  return "?";
}

absl::StatusOr<ModelConfig> ParseModelConfig(std::string_view config_json,
                                             std::string_view source_name) {
  const std::string source(source_name);
  absl::StatusOr<Json> root = ParseObject(config_json, source);
  if (!root.ok()) return root.status();
  ConfigReader reader(source, *root);

  ModelConfig config;
  const Family* family = ResolveFamily(reader);
  if (family == nullptr) return reader.status();
  config.architecture = family->architecture;
  config.model_type = family->model_type;

  const std::string hidden_act = reader.String("hidden_act").value_or("silu");
  if (reader.ok() && hidden_act != "silu") {
    return absl::UnimplementedError(absl::StrCat(source, ": key 'hidden_act' '", hidden_act,
                                                 "' is not supported (supported: silu)"));
  }
  ReadShape(reader, config);
  config.rms_norm_eps = reader.Number("rms_norm_eps", /*positive=*/true).value_or(1e-6);
  ReadRope(reader, config);
  ReadBiasesAndWindow(reader, config.model_type, config);
  config.tie_word_embeddings = reader.Bool("tie_word_embeddings").value_or(false);
  ReadDType(reader, config);
  const std::optional<int64_t> bos =
      reader.Integer("bos_token_id", 0, std::numeric_limits<int32_t>::max());
  if (bos) config.bos_token_id = static_cast<int32_t>(*bos);
  config.eos_token_ids = reader.TokenIds("eos_token_id").value_or(std::vector<int32_t>{});
  if (!reader.ok()) return reader.status();
  return config;
}

absl::Status ApplyGenerationConfig(std::string_view generation_config_json,
                                   std::string_view source_name, ModelConfig* config) {
  const std::string source(source_name);
  absl::StatusOr<Json> root = ParseObject(generation_config_json, source);
  if (!root.ok()) return root.status();
  ConfigReader reader(source, *root);

  ModelConfig::GenerationDefaults generation;
  generation.do_sample = reader.Bool("do_sample");
  generation.temperature = reader.Float("temperature", /*positive=*/false);
  generation.top_p = reader.Float("top_p", /*positive=*/true);
  if (generation.top_p && *generation.top_p > 1.0f) {
    reader.FailKey("top_p", absl::StrCat("must be in (0, 1], got ", *generation.top_p));
  }
  generation.top_k = reader.OptionalInt("top_k", 0);
  generation.max_new_tokens = reader.OptionalInt("max_new_tokens", 1);
  generation.repetition_penalty = reader.Float("repetition_penalty", /*positive=*/true);
  const std::optional<int64_t> bos =
      reader.Integer("bos_token_id", 0, std::numeric_limits<int32_t>::max());
  const std::optional<std::vector<int32_t>> eos = reader.TokenIds("eos_token_id");
  if (!reader.ok()) return reader.status();

  config->generation = generation;
  if (bos) config->bos_token_id = static_cast<int32_t>(*bos);
  if (eos) {
    std::vector<int32_t> merged = *eos;
    for (int32_t id : config->eos_token_ids) {
      if (std::find(merged.begin(), merged.end(), id) == merged.end()) merged.push_back(id);
    }
    config->eos_token_ids = std::move(merged);
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::filesystem::path& dir) {
  const std::filesystem::path config_path = dir / "config.json";
  absl::StatusOr<std::string> config_text = ReadSmallFile(config_path, kMaxConfigBytes);
  if (!config_text.ok()) return config_text.status();
  absl::StatusOr<ModelConfig> config = ParseModelConfig(*config_text, config_path.string());
  if (!config.ok()) return config.status();

  const std::filesystem::path generation_path = dir / "generation_config.json";
  std::error_code error;
  if (!std::filesystem::exists(generation_path, error)) return config;
  absl::StatusOr<std::string> generation_text = ReadSmallFile(generation_path, kMaxConfigBytes);
  if (!generation_text.ok()) return generation_text.status();
  if (absl::Status status =
          ApplyGenerationConfig(*generation_text, generation_path.string(), &*config);
      !status.ok()) {
    return status;
  }
  return config;
}

}  // namespace loom
