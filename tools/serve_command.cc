#include "tools/serve_command.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "engine/model/model_config.h"
#include "server/config/model_config_yaml.h"
#include "server/config/print_config.h"
#include "server/config/serve_config.h"
#include "server/config/server_config.h"
#include "server/server.h"
#include "tools/bundled_model.h"

namespace loom {
namespace {

// The flags of `loom serve`. Each is bound to storage of its own, with the built-in
// default for --help; ServeOverrides() takes only those given (CLI11's count()), so that
// a flag left out keeps the YAML's value.
class ServeFlags {
 public:
  // Adds `name`; when given, its value goes to `member` of the overrides.
  template <typename T, typename Member>
  CLI::Option* Add(CLI::App* cmd, const std::string& name, Member ServeOverrides::*member,
                   T default_value, const std::string& help = "") {
    auto value = std::make_shared<T>(std::move(default_value));
    CLI::Option* option = cmd->add_option(name, *value, help);
    appliers_.push_back([option, value, member](ServeOverrides& overrides) {
      if (option->count() > 0) overrides.*member = *value;
    });
    return option;
  }

  ServeOverrides Overrides() const {
    ServeOverrides overrides;
    for (const auto& apply : appliers_) apply(overrides);
    return overrides;
  }

  std::string config_file;
  bool print_config = false;

 private:
  std::vector<std::function<void(ServeOverrides&)>> appliers_;
};

// The memory this process may use: physical memory, or the cgroup's limit when lower
// (a Kubernetes pod's). 0 when unknown.
uint64_t AvailableMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  uint64_t bytes = pages > 0 && page_size > 0 ? static_cast<uint64_t>(pages) * page_size : 0;
  std::ifstream cgroup("/sys/fs/cgroup/memory.max");  // "max" when unlimited
  uint64_t limit = 0;
  if (cgroup >> limit && limit > 0 && (bytes == 0 || limit < bytes)) bytes = limit;
  return bytes;
}

// SIGTERM and SIGINT reach only this thread: the first starts the drain, a second one
// exits at once.
class SignalWatcher {
 public:
  // Call before any other thread starts, so that every thread inherits the mask.
  static void BlockTerminationSignals() {
    sigset_t set = TerminationSignals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }

  SignalWatcher() {
    thread_ = std::thread([this] {
      sigset_t set = TerminationSignals();
      int signal = 0;
      sigwait(&set, &signal);
      std::fprintf(stderr, "loom: signal %d: draining (send it again to exit now)\n", signal);
      first_.Notify();
      sigwait(&set, &signal);
      _exit(128 + signal);
    });
    thread_.detach();
  }

  void WaitForFirst() { first_.WaitForNotification(); }

 private:
  static sigset_t TerminationSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    return set;
  }

  absl::Notification first_;
  std::thread thread_;
};

absl::Status RunServe(const ServeFlags& flags) {
  SignalWatcher::BlockTerminationSignals();
  absl::StatusOr<ServeConfig> config =
      BuildServeConfig(flags.config_file, flags.Overrides(), [] { return BundledModelDir(); });
  if (!config.ok()) return config.status();
  if (flags.print_config) {
    std::cout << PrintServeConfig(*config);
    return absl::OkStatus();
  }
  auto options = ToServerOptions(config->server);
  if (!options.ok()) return options.status();

  // Every model is checked before any loads: a configuration that cannot run fails now,
  // not at its first request.
  for (const ModelYaml& model : config->models) {
    if (auto status = CheckSupportedByThisBuild(model); !status.ok()) return status;
  }
  std::vector<ModelLaunch> launches;
  const uint64_t memory_bytes = AvailableMemoryBytes();
  for (const ModelYaml& model : config->models) {
    auto model_config = LoadModelConfig(model.path);
    if (!model_config.ok()) {
      return absl::Status(model_config.status().code(),
                          absl::StrCat(model.Where("path"), ": model '", model.name,
                                       "': ", model_config.status().message()));
    }
    auto launch = PlanModelLaunch(model, config->server, *model_config, memory_bytes);
    if (!launch.ok()) return launch.status();
    launches.push_back(*std::move(launch));
  }
  ModelRegistry models;
  std::string serving;
  for (size_t i = 0; i < launches.size(); ++i) {
    const ModelLaunch& launch = launches[i];
    auto model =
        LoadServedModel(launch.dir, launch.name, launch.engine, launch.config, launch.served);
    if (!model.ok()) {
      return absl::Status(model.status().code(),
                          absl::StrCat(config->models[i].Where("path"), ": model '", launch.name,
                                       "': ", model.status().message()));
    }
    std::fprintf(stderr, "loom: model '%s': %s\n", model->name.c_str(),
                 model->engine->model().kv_pool_summary.c_str());
    absl::StrAppend(&serving, serving.empty() ? "model '" : ", model '", model->name,
                    "' (session_len ", model->engine->model().session_len, ")");
    models.Add(*std::move(model));
  }
  const bool tls = options->tls.has_value();
  SignalWatcher signals;
  auto server = Server::Start(std::move(models), *std::move(options));
  if (!server.ok()) return server.status();
  // The port line is what scripts and tests wait for.
  std::fprintf(stderr, "loom: serving %s on %s:%d%s\n", serving.c_str(),
               config->server.host.c_str(), (*server)->port(), tls ? " with TLS" : "");
  std::fflush(stderr);
  signals.WaitForFirst();
  (*server)->Drain();
  std::fprintf(stderr, "loom: drained; exiting\n");
  return absl::OkStatus();
}

}  // namespace

void AddServeCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  ServeFlags& f = *flags;
  const ServerConfig server;  // the built-in defaults, shown by --help
  const ModelYaml model;
  CLI::App* cmd = app.add_subcommand(
      "serve", "Serve models over gRPC (loom.v1.Generation). Flags override --config's YAML.");
  cmd->add_option("--config", f.config_file,
                  "server.yaml: listen address, limits, TLS, keys and models_dir (every "
                  "*.yaml there is a model)");
  cmd->add_flag("--print-config", f.print_config,
                "Print the merged configuration as YAML and exit without serving");
  f.Add(cmd, "MODEL_DIR", &ServeOverrides::model_dir, std::string(),
        "Hugging Face model directory to serve instead of models_dir's models (default: the "
        "bundled tiny model)");
  f.Add(cmd, "--model-name", &ServeOverrides::model_name, std::string(),
        "Name clients use in `model` (default: the directory's name)");
  f.Add(cmd, "--models-dir", &ServeOverrides::models_dir, std::string(),
        "Directory of model YAML files to serve (server.yaml: models_dir)");
  f.Add(cmd, "--host", &ServeOverrides::host, server.host, "Address to listen on")
      ->capture_default_str();
  f.Add(cmd, "--port", &ServeOverrides::port, server.port, "Port to listen on (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  f.Add(cmd, "--metrics-port", &ServeOverrides::metrics_port, server.metrics_port,
        "Prometheus /metrics port (0: any free port, -1: off)")
      ->check(CLI::Range(-1, 65535))
      ->capture_default_str();
  f.Add(cmd, "--api-key", &ServeOverrides::api_keys, std::vector<std::string>(),
        "Require 'authorization: Bearer KEY' metadata (repeatable)");
  f.Add(cmd, "--api-key-file", &ServeOverrides::api_key_file, std::string(),
        "File with one API key per line")
      ->check(CLI::ExistingFile);
  f.Add(cmd, "--tls-cert", &ServeOverrides::tls_cert, std::string(),
        "PEM certificate chain: serve over TLS");
  f.Add(cmd, "--tls-key", &ServeOverrides::tls_key, std::string(), "PEM private key of --tls-cert");
  f.Add(cmd, "--tls-client-ca", &ServeOverrides::tls_client_ca, std::string(),
        "PEM CA: require client certificates it signed (mutual TLS)");
  f.Add(cmd, "--drain-timeout", &ServeOverrides::drain_timeout, server.drain_timeout,
        "Seconds in-flight calls get to finish after SIGTERM")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  f.Add(cmd, "--max-receive-message-bytes", &ServeOverrides::max_receive_message_bytes,
        server.max_receive_message_bytes)
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  f.Add(cmd, "--max-send-message-bytes", &ServeOverrides::max_send_message_bytes,
        server.max_send_message_bytes)
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  f.Add(cmd, "--backend", &ServeOverrides::backend, std::string(BackendKindName(model.backend)),
        "cpu or cuda")
      ->capture_default_str();
  f.Add(cmd, "--dtype", &ServeOverrides::dtype, model.dtype,
        "Compute dtype: auto, float32 (cpu), bfloat16 or float16 (cuda)")
      ->capture_default_str();
  f.Add(cmd, "--max-batch-size", &ServeOverrides::max_batch_size, model.max_batch_size,
        "Sequences per step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  f.Add(cmd, "--max-prefill-tokens", &ServeOverrides::max_prefill_tokens, model.max_prefill_tokens,
        "Prompt tokens per step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  f.Add(cmd, "--session-len", &ServeOverrides::session_len, model.session_len,
        "Longest prompt + output (0: the model's max_position_embeddings)")
      ->check(CLI::NonNegativeNumber);
  f.Add(cmd, "--block-size", &ServeOverrides::block_size, model.block_size, "Tokens per KV block")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  CLI::Option* num_blocks = f.Add(cmd, "--num-blocks", &ServeOverrides::num_blocks, 0,
                                  "KV blocks (0: on cuda, --cache-max-entry-count of the free GPU "
                                  "memory; on cpu, max_batch_size sessions of session_len)")
                                ->check(CLI::NonNegativeNumber);
  f.Add(cmd, "--cache-max-entry-count", &ServeOverrides::cache_max_entry_count, 0.0,
        "KV pool: a block count (>= 1), or a fraction (0, 1): on cuda of the GPU memory free "
        "after the weights (default 0.8), on cpu of the default pool")
      ->check(CLI::PositiveNumber)
      ->excludes(num_blocks);
  f.Add(cmd, "--enable-prefix-caching", &ServeOverrides::enable_prefix_caching,
        model.enable_prefix_caching)
      ->capture_default_str();
  f.Add(cmd, "--async-scheduling", &ServeOverrides::async_scheduling, model.async_scheduling,
        "Queue the next decode step before this one's tokens are read back (GPU backends)")
      ->capture_default_str();
  f.Add(cmd, "--max-queued-requests", &ServeOverrides::max_queued_requests,
        server.max_queued_requests)
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  f.Add(cmd, "--max-queued-tokens", &ServeOverrides::max_queued_tokens, server.max_queued_tokens)
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  f.Add(cmd, "--max-sessions", &ServeOverrides::max_sessions, server.max_sessions)
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([flags, &exit_code] {
    if (auto status = RunServe(*flags); !status.ok()) {
      std::cerr << "loom serve: " << status.message() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace loom
