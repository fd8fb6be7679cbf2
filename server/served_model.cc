#include "server/served_model.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kernels/cpu/cpu_backend.h"

namespace loom {
namespace {

SamplingParams DefaultSampling(const ModelConfig& config) {
  const ModelConfig::GenerationDefaults& g = config.generation;
  SamplingParams params;
  params.temperature = g.do_sample == false ? 0.0f : g.temperature.value_or(1.0f);
  params.top_k = g.top_k.value_or(0);
  params.top_p = g.top_p.value_or(1.0f);
  params.repetition_penalty = g.repetition_penalty.value_or(1.0f);
  return params;
}

}  // namespace

absl::StatusOr<ServedModel> LoadServedModel(const std::filesystem::path& dir, std::string name,
                                            const EngineOptions& options,
                                            const EngineConfig& config) {
  ServedModel served;
  served.name = name.empty() ? dir.filename().string() : std::move(name);
  if (served.name.empty()) served.name = dir.parent_path().filename().string();
  served.backend = std::make_unique<CpuBackend>();
  auto model = LoadModel(dir, served.backend.get(), options);
  if (!model.ok()) return model.status();
  auto chat = ChatFormatter::Create(dir, *model->tokenizer, ChatTemplateOverride{});
  if (!chat.ok()) return chat.status();
  served.chat = std::make_shared<const ChatFormatter>(*std::move(chat));
  served.default_sampling = DefaultSampling(model->config);
  served.default_max_tokens = model->config.generation.max_new_tokens.value_or(512);
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
