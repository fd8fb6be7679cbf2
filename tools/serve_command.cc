#include "tools/serve_command.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "server/server.h"
#include "tools/bundled_model.h"

namespace loom {
namespace {

struct ServeFlags {
  std::string model_dir;
  std::string model_name;
  std::string host = "127.0.0.1";
  int port = 50051;
  std::vector<std::string> api_keys;
  std::string api_key_file;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  double drain_timeout = 30.0;
  int max_receive_message_bytes = 16 << 20;
  int max_send_message_bytes = 16 << 20;
  EngineOptions engine;
  EngineConfig config;
};

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
  std::filesystem::path dir = flags.model_dir;
  if (dir.empty()) {
    auto bundled = BundledModelDir();
    if (!bundled.ok()) return bundled.status();
    dir = *bundled;
  }
  ServerOptions options;
  options.host = flags.host;
  options.port = flags.port;
  auto keys = ApiKeys::Create(flags.api_keys, flags.api_key_file);
  if (!keys.ok()) return keys.status();
  options.api_keys = *std::move(keys);
  if (!flags.tls_cert.empty() || !flags.tls_key.empty()) {
    if (flags.tls_cert.empty() || flags.tls_key.empty()) {
      return absl::InvalidArgumentError("--tls-cert and --tls-key: give both or neither");
    }
    options.tls = TlsOptions{.cert_file = flags.tls_cert,
                             .key_file = flags.tls_key,
                             .client_ca_file = flags.tls_client_ca};
  } else if (!flags.tls_client_ca.empty()) {
    return absl::InvalidArgumentError("--tls-client-ca: needs --tls-cert and --tls-key");
  }
  options.drain_timeout = absl::Seconds(flags.drain_timeout);
  options.max_receive_message_bytes = flags.max_receive_message_bytes;
  options.max_send_message_bytes = flags.max_send_message_bytes;

  auto model = LoadServedModel(dir, flags.model_name, flags.engine, flags.config);
  if (!model.ok()) return model.status();
  const std::string name = model->name;
  const int session_len = model->engine->model().session_len;
  ModelRegistry models;
  models.Add(*std::move(model));
  SignalWatcher signals;
  auto server = Server::Start(std::move(models), std::move(options));
  if (!server.ok()) return server.status();
  // The port line is what scripts and tests wait for.
  std::fprintf(stderr, "loom: serving model '%s' (session_len %d) on %s:%d%s\n", name.c_str(),
               session_len, flags.host.c_str(), (*server)->port(),
               flags.tls_cert.empty() ? "" : " with TLS");
  std::fflush(stderr);
  signals.WaitForFirst();
  (*server)->Drain();
  std::fprintf(stderr, "loom: drained; exiting\n");
  return absl::OkStatus();
}

}  // namespace

void AddServeCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve a model over gRPC (loom.v1.Generation)");
  cmd->add_option("MODEL_DIR", flags->model_dir,
                  "Hugging Face model directory (default: the bundled tiny model)");
  cmd->add_option("--model-name", flags->model_name,
                  "Name clients use in `model` (default: the directory's name)");
  cmd->add_option("--host", flags->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", flags->port, "Port to listen on (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--api-key", flags->api_keys,
                  "Require 'authorization: Bearer KEY' metadata (repeatable)");
  cmd->add_option("--api-key-file", flags->api_key_file, "File with one API key per line")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-cert", flags->tls_cert, "PEM certificate chain: serve over TLS");
  cmd->add_option("--tls-key", flags->tls_key, "PEM private key of --tls-cert");
  cmd->add_option("--tls-client-ca", flags->tls_client_ca,
                  "PEM CA: require client certificates it signed (mutual TLS)");
  cmd->add_option("--drain-timeout", flags->drain_timeout,
                  "Seconds in-flight calls get to finish after SIGTERM")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--max-receive-message-bytes", flags->max_receive_message_bytes)
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-send-message-bytes", flags->max_send_message_bytes)
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-batch-size", flags->engine.max_batch_size, "Sequences per step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-prefill-tokens", flags->engine.max_prefill_tokens,
                  "Prompt tokens per step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--session-len", flags->engine.session_len,
                  "Longest prompt + output (0: the model's max_position_embeddings)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--block-size", flags->engine.block_size, "Tokens per KV block")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--num-blocks", flags->engine.num_blocks,
                  "KV blocks (0: max_batch_size sessions of session_len)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--enable-prefix-caching", flags->config.enable_prefix_caching)
      ->capture_default_str();
  cmd->add_option("--max-queued-requests", flags->config.max_queued_requests)
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-queued-tokens", flags->config.max_queued_tokens)
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-sessions", flags->config.max_sessions)
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
