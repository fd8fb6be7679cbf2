// `loom serve`: the gRPC server of one or more models.
//
// It serves loom.v1.Generation (generation_service.h), grpc.health.v1 (the overall
// status "", "loom.v1.Generation", and one service name per model) and server
// reflection (reflection_service.h), with explicit message size limits and keepalive settings, over
// plain TCP or TLS (optionally mutual).
//
// With metrics_port >= 0 it also serves Prometheus metrics over HTTP (metrics.h).
//
// Drain() is the SIGTERM sequence: health goes NOT_SERVING at once, new calls get
// UNAVAILABLE, calls in flight have drain_timeout to finish, and the engine requests of
// the rest are cancelled (their calls end with UNAVAILABLE); then the server stops.
//
// Thread-safety: Drain() and port() may be called from any thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/active_calls.h"
#include "server/api_keys.h"
#include "server/generation_service.h"
#include "server/metrics.h"
#include "server/reflection_service.h"
#include "server/served_model.h"

namespace loom {

struct TlsOptions {
  std::string cert_file;       // PEM certificate chain of the server
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // non-empty: mutual TLS, clients must present a cert it signed
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 50051;  // 0: any free port (see Server::port())
  ApiKeys api_keys;
  std::optional<TlsOptions> tls;
  int max_receive_message_bytes = 16 << 20;
  int max_send_message_bytes = 16 << 20;
  absl::Duration keepalive_time = absl::Seconds(60);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  absl::Duration drain_timeout = absl::Seconds(30);
  // Prometheus metrics over HTTP at /metrics on this port (0: any free port, see
  // Server::metrics_port(); -1: off). Listens on `host`.
  int metrics_port = 9400;
};

class Server {
 public:
  // Errors: InvalidArgument for unreadable TLS files; Unavailable when the address cannot
  // be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(ModelRegistry models, ServerOptions options);
  // Stops serving (without draining) and then the engines.
  ~Server();

  int port() const { return port_; }
  // The metrics endpoint's port, or -1 when metrics are off.
  int metrics_port() const { return metrics_ != nullptr ? metrics_->port() : -1; }
  const ModelRegistry& models() const { return models_; }

  // The SIGTERM sequence (see above); returns once the server has stopped.
  void Drain();

 private:
  Server(ModelRegistry models, ServerOptions options);

  ModelRegistry models_;  // destroyed last: the engines outlive every call
  const ServerOptions options_;
  ActiveCalls calls_;
  GenerationService service_;
  ReflectionService reflection_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<MetricsEndpoint> metrics_;
};

}  // namespace loom
