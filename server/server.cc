#include "server/server.h"

#include <grpcpp/health_check_service_interface.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/model/read_file.h"

namespace loom {
namespace {

// A PEM file, at most 1 MiB. InvalidArgument naming `flag` when it cannot be read.
absl::StatusOr<std::string> ReadPem(const std::string& flag, const std::string& path) {
  auto text = ReadSmallFile(path, 1 << 20);
  if (!text.ok())
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", text.status().message()));
  return text;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const std::optional<TlsOptions>& tls) {
  if (!tls.has_value()) return grpc::InsecureServerCredentials();
  auto cert = ReadPem("tls_cert", tls->cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadPem("tls_key", tls->key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (!tls->client_ca_file.empty()) {
    auto ca = ReadPem("tls_client_ca", tls->client_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  ssl.pem_key_cert_pairs.push_back({.private_key = *key, .cert_chain = *cert});
  return grpc::SslServerCredentials(ssl);
}

int Milliseconds(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

}  // namespace

Server::Server(ModelRegistry models, ServerOptions options)
    : models_(std::move(models)),
      options_(std::move(options)),
      service_(&models_, &options_.api_keys, &calls_),
      reflection_(&service_) {}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ModelRegistry models, ServerOptions options) {
  auto credentials = Credentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<Server> server(new Server(std::move(models), std::move(options)));
  const ServerOptions& o = server->options_;

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  const std::string address = absl::StrCat(o.host, ":", o.port);
  builder.AddListeningPort(address, *credentials, &server->port_);
  builder.RegisterService(&server->service_);
  builder.RegisterService(&server->reflection_);
  builder.SetMaxReceiveMessageSize(o.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(o.max_send_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Milliseconds(o.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Milliseconds(o.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Clients may ping as often as every 10 s without being told to go away.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  if (o.metrics_port >= 0) {
    auto metrics = MetricsEndpoint::Start(
        o.host, o.metrics_port,
        std::make_shared<MetricsCollector>(&server->models_, &server->service_.request_counters()));
    if (!metrics.ok()) return metrics.status();
    server->metrics_ = *std::move(metrics);
  }
  grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService();
  health->SetServingStatus("", true);
  health->SetServingStatus(v1::Generation::service_full_name(), true);
  for (const auto& model : server->models_.models()) health->SetServingStatus(model->name, true);
  return server;
}

Server::~Server() {
  if (server_ != nullptr) {
    calls_.CancelAll();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
  }
}

void Server::Drain() {
  server_->GetHealthCheckService()->SetServingStatus(false);
  service_.StartDraining();
  bool idle = calls_.WaitUntilEmpty(absl::Now() + options_.drain_timeout);
  if (!idle) {
    calls_.CancelAll();  // their calls end with UNAVAILABLE
    idle = calls_.WaitUntilEmpty(absl::Now() + absl::Seconds(5));
  }
  // With no call left there is nothing to wait for (gRPC would otherwise wait out the
  // deadline for idle client connections); else a last second before cancelling them.
  server_->Shutdown(std::chrono::system_clock::now() +
                    (idle ? std::chrono::seconds(0) : std::chrono::seconds(1)));
  server_->Wait();
  server_.reset();
}

}  // namespace loom
