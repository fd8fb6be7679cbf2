#include "server/served_model.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace loom {
namespace {

SamplingParams DefaultSampling(const ModelConfig& config, const SamplingDefaults& yaml) {
  const ModelConfig::GenerationDefaults& g = config.generation;
  SamplingParams params;
  params.temperature = g.do_sample == false ? 0.0f : g.temperature.value_or(1.0f);
  params.top_k = g.top_k.value_or(0);
  params.top_p = g.top_p.value_or(1.0f);
  params.repetition_penalty = g.repetition_penalty.value_or(1.0f);
  params.temperature = yaml.temperature.value_or(params.temperature);
  params.top_p = yaml.top_p.value_or(params.top_p);
  params.top_k = yaml.top_k.value_or(params.top_k);
  params.min_p = yaml.min_p.value_or(params.min_p);
  params.repetition_penalty = yaml.repetition_penalty.value_or(params.repetition_penalty);
  params.presence_penalty = yaml.presence_penalty.value_or(params.presence_penalty);
  params.frequency_penalty = yaml.frequency_penalty.value_or(params.frequency_penalty);
  return params;
}

}  // namespace

absl::StatusOr<ServedModel> LoadServedModel(const std::filesystem::path& dir, std::string name,
                                            const EngineOptions& options,
                                            const EngineConfig& config,
                                            const ServedModelOptions& served_options) {
  ServedModel served;
  served.name = name.empty() ? dir.filename().string() : std::move(name);
  if (served.name.empty()) served.name = dir.parent_path().filename().string();
  auto model_config = LoadModelConfig(dir);
  if (!model_config.ok()) return model_config.status();
  auto dtype = ComputeDtypeFor(served_options.backend, served_options.dtype, *model_config);
  if (!dtype.ok()) return dtype.status();
  auto backend = CreateBackend(BackendOptions{
      .kind = served_options.backend, .device = served_options.device, .dtype = *dtype});
  if (!backend.ok()) return backend.status();
  served.backend = *std::move(backend);
  auto model = LoadModel(dir, served.backend.get(), options);
  if (!model.ok()) return model.status();
  auto chat = ChatFormatter::Create(dir, *model->tokenizer, served_options.chat_template);
  if (!chat.ok()) return chat.status();
  served.chat = std::make_shared<const ChatFormatter>(*std::move(chat));
  const SamplingDefaults& defaults = served_options.sampling;
  served.default_sampling = DefaultSampling(model->config, defaults);
  if (auto status = ValidateSamplingParams(served.default_sampling); !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("default sampling of model '", served.name, "': ", status.message()));
  }
  served.default_max_tokens = defaults.max_tokens.value_or(
      model->config.generation.max_new_tokens.value_or(served.default_max_tokens));
  if (served.default_max_tokens < 1) {
    return absl::InvalidArgumentError(absl::StrCat("default max_tokens of model '", served.name,
                                                   "' must be >= 1, got ",
                                                   served.default_max_tokens));
  }
  served.default_stop = defaults.stop;
  served.default_stop_token_ids = defaults.stop_token_ids;
  auto engine = Engine::Create(*std::move(model), config);
  if (!engine.ok()) return engine.status();
  served.engine = *std::move(engine);
  return served;
}

absl::StatusOr<ServedModel*> ModelRegistry::Find(const std::string& name) const {
  if (models_.empty()) return absl::UnavailableError("model: the server serves no model");
  if (name.empty()) return models_.front().get();
  for (const auto& model : models_) {
    if (model->name == name) return model.get();
  }
  std::vector<std::string> names;
  for (const auto& model : models_) names.push_back(model->name);
  return absl::NotFoundError(absl::StrCat("model: no model named '", name,
                                          "'; this server serves: ", absl::StrJoin(names, ", ")));
}

}  // namespace loom
