#include "tools/generate_command.h"

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/generator.h"
#include "engine/model_loader.h"
#include "engine/text/detokenizer.h"
#include "kernels/cpu/cpu_backend.h"
#include "nlohmann/json.hpp"
#include "tools/bundled_model.h"

namespace loom {
namespace {

struct GenerateFlags {
  std::string model_dir;
  std::optional<std::string> prompt;
  std::optional<std::string> prompt_file;
  std::optional<int> max_tokens;
  std::optional<float> temperature;
  std::optional<int> top_k;
  std::optional<float> top_p;
  std::optional<uint64_t> seed;
  bool json = false;
};

absl::StatusOr<std::string> ReadPrompt(const GenerateFlags& flags) {
  if (flags.prompt.has_value()) return *flags.prompt;
  std::ifstream in(*flags.prompt_file, std::ios::binary);
  if (!in)
    return absl::NotFoundError(absl::StrCat("--prompt-file: cannot read ", *flags.prompt_file));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
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
  params.seed = flags.seed;
  return params;
}

absl::Status RunGenerate(const GenerateFlags& flags) {
  std::filesystem::path dir = flags.model_dir;
  if (dir.empty()) {
    auto bundled = BundledModelDir();
    if (!bundled.ok()) return bundled.status();
    dir = *bundled;
  }
  auto prompt = ReadPrompt(flags);
  if (!prompt.ok()) return prompt.status();

  CpuBackend backend;
  EngineOptions options;
  options.max_batch_size = 1;
  auto model = LoadModel(dir, &backend, options);
  if (!model.ok()) return model.status();

  auto prompt_ids = model->tokenizer->Encode(*prompt, /*add_special_tokens=*/true);
  if (!prompt_ids.ok()) return prompt_ids.status();

  GenerateRequest request;
  request.prompt_ids = *prompt_ids;
  request.sampling = ResolveSampling(flags, model->config);
  request.max_tokens =
      flags.max_tokens.value_or(model->config.generation.max_new_tokens.value_or(128));
  request.stop_token_ids = model->config.eos_token_ids;

  Generator generator(model->runner.get(), model->session_len);
  // The prompt is context, so that the continuation's first word keeps its leading space.
  auto stream =
      Detokenizer::Create(*model->tokenizer, /*skip_special_tokens=*/true, request.prompt_ids);
  if (!stream.ok()) return stream.status();
  absl::Status stream_status;
  if (!flags.json) std::cout << *prompt << std::flush;
  auto result = generator.Generate(request, [&](int32_t id) {
    if (flags.json || !stream_status.ok()) return;
    absl::StatusOr<std::string> piece = stream->Push(id);
    if (!piece.ok()) {
      stream_status = piece.status();
      return;
    }
    std::cout << *piece << std::flush;
  });
  if (!result.ok()) return result.status();
  if (!stream_status.ok()) return stream_status;

  auto text = model->tokenizer->Decode(result->output_ids, /*skip_special_tokens=*/true);
  if (!text.ok()) return text.status();
  if (flags.json) {
    nlohmann::json out = {
        {"model", dir.string()},
        {"prompt_ids", request.prompt_ids},
        {"output_ids", result->output_ids},
        {"text", *text},
        {"finish_reason", FinishReasonName(result->finish_reason)},
        {"usage",
         {{"prompt_tokens", request.prompt_ids.size()},
          {"completion_tokens", result->output_ids.size()}}},
    };
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    absl::StatusOr<std::string> rest = stream->Finish();
    if (!rest.ok()) return rest.status();
    std::cout << *rest << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

void AddGenerateCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand("generate", "Continue a prompt with a model (CPU backend)");
  cmd->add_option("MODEL_DIR", flags->model_dir,
                  "Hugging Face model directory (default: the bundled tiny model)");
  auto* prompt = cmd->add_option("--prompt", flags->prompt, "Prompt text");
  auto* prompt_file = cmd->add_option("--prompt-file", flags->prompt_file, "File with the prompt");
  prompt->excludes(prompt_file);
  cmd->add_option("--max-tokens", flags->max_tokens, "Most tokens to generate")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", flags->temperature, "0 = greedy")->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-k", flags->top_k, "Keep the k most likely tokens (0 = off)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", flags->top_p, "Nucleus mass in (0, 1]")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", flags->seed, "Seed for repeatable sampling");
  cmd->add_flag("--json", flags->json, "Print one JSON object with prompt_ids, output_ids, text");
  cmd->callback([flags, &exit_code] {
    if (!flags->prompt && !flags->prompt_file) {
      throw CLI::RequiredError("--prompt or --prompt-file");
    }
    if (auto status = RunGenerate(*flags); !status.ok()) {
      std::cerr << "loom generate: " << status.message() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace loom
