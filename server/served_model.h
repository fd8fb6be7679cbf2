// The models one server serves, by name. The first one added is the default, used when
// a request leaves `model` empty.
//
// Thread-safety: add every model before serving; afterwards the registry is read-only
// (each Engine is itself thread-safe).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/chat/chat_formatter.h"
#include "engine/engine.h"
#include "kernels/backend.h"

namespace loom {

struct ServedModel {
  std::string name;                  // the proto's `model`, the metrics' `model` label
  std::unique_ptr<Backend> backend;  // declared first: it outlives the engine
  std::unique_ptr<Engine> engine;
  // How Chat renders messages; null when chat is off for this model.
  std::shared_ptr<const ChatFormatter> chat;
  // Default sampling parameters and max_tokens for requests that leave them unset.
  SamplingParams default_sampling;
  int default_max_tokens = 512;
};

// Loads the Hugging Face model in `dir` onto a CPU backend and starts its engine, with
// its chat template and the sampling defaults of its generation_config.json.
// `name` empty: the directory's name.
absl::StatusOr<ServedModel> LoadServedModel(const std::filesystem::path& dir, std::string name,
                                            const EngineOptions& options,
                                            const EngineConfig& config);

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
