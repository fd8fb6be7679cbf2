// The models one server serves, by name. The first one added is the default, used when
// a request leaves `model` empty.
//
// Thread-safety: add every model before serving; afterwards the registry is read-only
// (each Engine is itself thread-safe).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/chat/chat_formatter.h"
#include "engine/chat/chat_template_override.h"
#include "engine/engine.h"
#include "kernels/backend.h"
#include "kernels/backend_factory.h"

namespace loom {

// Sampling defaults a model's YAML sets (its `sampling:` mapping, with the proto's
// SamplingParams names). Each one set replaces the model's generation_config.json default;
// nullopt or empty leaves it.
struct SamplingDefaults {
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<int> top_k;
  std::optional<float> min_p;
  std::optional<float> repetition_penalty;
  std::optional<float> presence_penalty;
  std::optional<float> frequency_penalty;
  std::optional<int> max_tokens;
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
};

// What a model's YAML adds to its Hugging Face directory. The defaults change nothing.
struct ServedModelOptions {
  ChatTemplateOverride chat_template;  // before the directory's own template
  SamplingDefaults sampling;
  std::string backend = "cpu";  // cpu | cuda
  int device = 0;               // the GPU of backend cuda
  // auto | float32 | float16 | bfloat16. auto: float32 on cpu; on cuda the checkpoint's
  // dtype when it is float16, else bfloat16.
  std::string dtype = "auto";
};

struct ServedModel {
  std::string name;                  // the proto's `model`, the metrics' `model` label
  std::unique_ptr<Backend> backend;  // declared first: it outlives the engine
  std::unique_ptr<Engine> engine;
  // How Chat renders messages; null when chat is off for this model.
  std::shared_ptr<const ChatFormatter> chat;
  // Default sampling parameters and max_tokens for requests that leave them unset.
  SamplingParams default_sampling;
  int default_max_tokens = 512;
  // Stop strings and token ids for requests that set none (SamplingDefaults).
  std::vector<std::string> default_stop;
  std::vector<int32_t> default_stop_token_ids;
};

// Loads the Hugging Face model in `dir` onto the backend `served` names and starts its
// engine, with
// the chat template of `served` (else the directory's own) and the sampling defaults of
// its generation_config.json overridden by `served.sampling`. `name` empty: the
// directory's name. Errors: LoadModel's, ChatFormatter::Create's (a bad template),
// Engine::Create's, CreateBackend's; InvalidArgument for a dtype the backend does not
// compute in, sampling defaults out of range
// (ValidateSamplingParams) or max_tokens < 1.
absl::StatusOr<ServedModel> LoadServedModel(const std::filesystem::path& dir, std::string name,
                                            const EngineOptions& options,
                                            const EngineConfig& config,
                                            const ServedModelOptions& served = {});

class ModelRegistry {
 public:
  void Add(ServedModel model) {
    models_.push_back(std::make_unique<ServedModel>(std::move(model)));
  }

  // The model named `name`, or the default one for an empty name.
  // NotFound naming the field and the served models.
  absl::StatusOr<ServedModel*> Find(const std::string& name) const;

  const std::vector<std::unique_ptr<ServedModel>>& models() const { return models_; }

 private:
  std::vector<std::unique_ptr<ServedModel>> models_;
};

}  // namespace loom
