#include "tools/generate_command.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "engine/model_loader.h"
#include "kernels/backend_factory.h"
#include "nlohmann/json.hpp"
#include "tools/bundled_model.h"

namespace loom {
namespace {

struct GenerateFlags {
  std::string model_dir;
  std::optional<std::string> prompt;
  std::optional<std::string> prompt_file;
  std::optional<std::string> prompts_file;
  std::optional<int> max_tokens;
  std::optional<float> temperature;
  std::optional<int> top_k;
  std::optional<float> top_p;
  std::optional<float> min_p;
  std::optional<float> repetition_penalty;
  std::optional<float> presence_penalty;
  std::optional<float> frequency_penalty;
  int logprobs = 0;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  bool json = false;
  std::string backend = "cpu";
  std::string dtype = "auto";
  int device = 0;
  std::optional<int> max_batch_size;
};

absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The prompts to run: one from --prompt or --prompt-file, or a JSON array of strings
// from --prompts-file.
absl::StatusOr<std::vector<std::string>> ReadPrompts(const GenerateFlags& flags) {
  if (flags.prompt.has_value()) return std::vector<std::string>{*flags.prompt};
  if (flags.prompt_file.has_value()) {
    auto text = ReadFile("--prompt-file", *flags.prompt_file);
    if (!text.ok()) return text.status();
    return std::vector<std::string>{*std::move(text)};
  }
  auto text = ReadFile("--prompts-file", *flags.prompts_file);
  if (!text.ok()) return text.status();
  const nlohmann::json json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_array() || json.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--prompts-file: ", *flags.prompts_file,
                                                   " must hold a non-empty JSON array of strings"));
  }
  std::vector<std::string> prompts;
  for (size_t i = 0; i < json.size(); ++i) {
    if (!json[i].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("--prompts-file: ", *flags.prompts_file,
                                                     ": element ", i, " is not a string"));
    }
    prompts.push_back(json[i].get<std::string>());
  }
  return prompts;
}

// Flags over generation_config.json over built-in defaults. A model whose
// generation_config.json says do_sample: false decodes greedily by default.
SamplingParams ResolveSampling(const GenerateFlags& flags, const ModelConfig& config) {
  const ModelConfig::GenerationDefaults& defaults = config.generation;
  const float default_temperature =
      defaults.do_sample == false ? 0.0f : defaults.temperature.value_or(1.0f);
  SamplingParams params;
  params.temperature = flags.temperature.value_or(default_temperature);
  params.top_k = flags.top_k.value_or(defaults.top_k.value_or(0));
  params.top_p = flags.top_p.value_or(defaults.top_p.value_or(1.0f));
  params.min_p = flags.min_p.value_or(0.0f);
  params.repetition_penalty =
      flags.repetition_penalty.value_or(defaults.repetition_penalty.value_or(1.0f));
  params.presence_penalty = flags.presence_penalty.value_or(0.0f);
  params.frequency_penalty = flags.frequency_penalty.value_or(0.0f);
  params.logprobs = flags.logprobs;
  params.seed = flags.seed;
  return params;
}

// What one request produced, gathered from its channel.
struct Result {
  std::string prompt;
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> output_ids;
  std::string text;
  std::vector<SampledToken> logprobs;
  RequestOutput final;
};

nlohmann::json ToJson(const Result& r) {
  nlohmann::json out = {
      {"prompt", r.prompt},
      {"prompt_ids", r.prompt_ids},
      {"output_ids", r.output_ids},
      {"text", r.text},
      {"finish_reason", FinishReasonName(r.final.finish_reason)},
      {"usage",
       {{"prompt_tokens", r.final.usage.prompt_tokens},
        {"completion_tokens", r.final.usage.completion_tokens},
        {"cached_prompt_tokens", r.final.usage.cached_prompt_tokens}}},
  };
  if (!r.logprobs.empty()) {
    nlohmann::json tokens = nlohmann::json::array();
    for (const SampledToken& t : r.logprobs) {
      nlohmann::json top = nlohmann::json::array();
      for (const auto& [id, logprob] : t.top_logprobs) {
        top.push_back({{"token_id", id}, {"logprob", logprob}});
      }
      tokens.push_back({{"token_id", t.id}, {"logprob", t.logprob}, {"top_logprobs", top}});
    }
    out["logprobs"] = tokens;
  }
  return out;
}

absl::Status RunGenerate(const GenerateFlags& flags) {
  std::filesystem::path dir = flags.model_dir;
  if (dir.empty()) {
    auto bundled = BundledModelDir();
    if (!bundled.ok()) return bundled.status();
    dir = *bundled;
  }
  auto prompts = ReadPrompts(flags);
  if (!prompts.ok()) return prompts.status();

  auto config = LoadModelConfig(dir);
  if (!config.ok()) return config.status();
  auto dtype = ComputeDtypeFor(flags.backend, flags.dtype, *config);
  if (!dtype.ok()) return dtype.status();
  auto backend = CreateBackend({.kind = flags.backend, .device = flags.device, .dtype = *dtype});
  if (!backend.ok()) return backend.status();
  EngineOptions options;
  options.max_batch_size =
      flags.max_batch_size.value_or(static_cast<int>(std::min<size_t>(prompts->size(), 64)));
  // Enough for the batch without taking most of a GPU.
  options.session_len = std::min(config->max_position_embeddings, 8192);
  options.kv_cache_free_fraction = 0.3;
  auto model = LoadModel(dir, backend->get(), options);
  if (!model.ok()) return model.status();
  const int default_max_tokens = model->config.generation.max_new_tokens.value_or(128);
  const SamplingParams sampling = ResolveSampling(flags, model->config);
  auto engine = Engine::Create(*std::move(model), EngineConfig{});
  if (!engine.ok()) return engine.status();
  const Tokenizer& tokenizer = *(*engine)->model().tokenizer;

  std::vector<Result> results(prompts->size());
  std::vector<std::shared_ptr<OutputChannel>> channels;
  for (size_t i = 0; i < prompts->size(); ++i) {
    auto ids = tokenizer.Encode((*prompts)[i], /*add_special_tokens=*/true);
    if (!ids.ok()) return ids.status();
    Request request;
    request.request_id = absl::StrCat(i);
    request.prompt_ids = *ids;
    request.sampling = sampling;
    request.stop.max_tokens = flags.max_tokens.value_or(default_max_tokens);
    request.stop.stop = flags.stop;
    request.stop.stop_token_ids = flags.stop_token_ids;
    request.stop.ignore_eos = flags.ignore_eos;
    results[i].prompt = (*prompts)[i];
    results[i].prompt_ids = *ids;
    auto channel = (*engine)->Submit(std::move(request));
    if (!channel.ok()) {
      return prompts->size() == 1
                 ? channel.status()
                 : absl::Status(channel.status().code(),
                                absl::StrCat("prompt ", i, ": ", channel.status().message()));
    }
    channels.push_back(*channel);
  }

  // One plain prompt streams to the terminal as it is generated.
  const bool stream = !flags.json && prompts->size() == 1;
  if (stream) std::cout << results[0].prompt << std::flush;
  for (size_t i = 0; i < channels.size(); ++i) {
    Result& r = results[i];
    while (auto output = channels[i]->Next()) {
      if (!output->status.ok()) return output->status;
      r.output_ids.insert(r.output_ids.end(), output->token_ids.begin(), output->token_ids.end());
      r.logprobs.insert(r.logprobs.end(), output->logprobs.begin(), output->logprobs.end());
      r.text += output->text;
      if (stream) std::cout << output->text << std::flush;
      if (output->finished) r.final = *output;
    }
  }

  const auto dump = [](const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  if (flags.json && !flags.prompts_file.has_value()) {
    nlohmann::json out = ToJson(results[0]);
    out["model"] = dir.string();
    std::cout << dump(out) << "\n";
  } else if (flags.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const Result& r : results) out.push_back(ToJson(r));
    std::cout << dump(out) << "\n";
  } else if (stream) {
    std::cout << "\n";
  } else {
    for (const Result& r : results) std::cout << r.prompt << r.text << "\n\n";
  }
  return absl::OkStatus();
}

}  // namespace

void AddGenerateCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand("generate", "Continue prompts with a model");
  cmd->add_option("--backend", flags->backend, "cpu or cuda")->capture_default_str();
  cmd->add_option("--dtype", flags->dtype, "auto, float32 (cpu), bfloat16 or float16 (cuda)")
      ->capture_default_str();
  cmd->add_option("--device", flags->device, "GPU index (cuda)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-batch-size", flags->max_batch_size,
                  "Sequences per step (default: the number of prompts, at most 64); 1 runs "
                  "the prompts one after another, each alone")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("MODEL_DIR", flags->model_dir,
                  "Hugging Face model directory (default: the bundled tiny model)");
  auto* prompt = cmd->add_option("--prompt", flags->prompt, "Prompt text");
  auto* prompt_file = cmd->add_option("--prompt-file", flags->prompt_file, "File with the prompt");
  auto* prompts_file = cmd->add_option(
      "--prompts-file", flags->prompts_file,
      "JSON array of prompts, run concurrently; --json prints an array in input order");
  prompt->excludes(prompt_file)->excludes(prompts_file);
  prompt_file->excludes(prompts_file);
  cmd->add_option("--max-tokens", flags->max_tokens, "Most tokens to generate")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", flags->temperature, "0 = greedy")->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-k", flags->top_k, "Keep the k most likely tokens (0 = off)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", flags->top_p, "Nucleus mass in (0, 1]")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-p", flags->min_p, "Drop tokens below min_p times the best one")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--repetition-penalty", flags->repetition_penalty,
                  "Penalize tokens of the prompt and output (1 = off)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--presence-penalty", flags->presence_penalty,
                  "Subtract once for each token already in the output")
      ->check(CLI::Range(-2.0, 2.0));
  cmd->add_option("--frequency-penalty", flags->frequency_penalty,
                  "Subtract per occurrence in the output")
      ->check(CLI::Range(-2.0, 2.0));
  cmd->add_option("--logprobs", flags->logprobs, "Also return the N most likely tokens per step")
      ->check(CLI::Range(0, kMaxLogprobs));
  cmd->add_option("--seed", flags->seed, "Seed for repeatable sampling");
  cmd->add_option("--stop", flags->stop, "Stop before this text (repeatable)");
  cmd->add_option("--stop-token-id", flags->stop_token_ids, "Stop at this token id (repeatable)");
  cmd->add_flag("--ignore-eos", flags->ignore_eos, "Do not stop at the model's EOS tokens");
  cmd->add_flag("--json", flags->json, "Print JSON with prompt_ids, output_ids, text");
  cmd->callback([flags, &exit_code] {
    if (!flags->prompt && !flags->prompt_file && !flags->prompts_file) {
      throw CLI::RequiredError("--prompt, --prompt-file or --prompts-file");
    }
    if (auto status = RunGenerate(*flags); !status.ok()) {
      std::cerr << "loom generate: " << status.message() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace loom
