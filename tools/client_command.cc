#include "tools/client_command.h"

#include <grpcpp/grpcpp.h>

#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/model/read_file.h"
#include "loom/v1/generation.grpc.pb.h"
#include "tools/chat_repl.h"

namespace loom {
namespace {

struct ClientFlags {
  std::string target;
  std::string model;
  std::string api_key;
  std::optional<std::string> prompt;
  bool raw = false;
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<int> top_k;
  std::optional<uint32_t> max_tokens;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
};

// "CODE: message", e.g. "INVALID_ARGUMENT: sampling.top_p must be in (0, 1], got 0".
absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// A PEM file named by `flag`, at most 1 MiB.
absl::StatusOr<std::string> ReadPem(const std::string& flag, const std::string& path) {
  auto text = ReadSmallFile(path, 1 << 20);
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat(flag, ": ", text.status().message()));
  }
  return text;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(const ClientFlags& flags) {
  if (flags.tls_ca.empty() && flags.tls_cert.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  if (!flags.tls_ca.empty()) {
    auto ca = ReadPem("--tls-ca", flags.tls_ca);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
  }
  if (!flags.tls_cert.empty()) {
    auto cert = ReadPem("--tls-cert", flags.tls_cert);
    if (!cert.ok()) return cert.status();
    auto key = ReadPem("--tls-key", flags.tls_key);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *cert;
    ssl.pem_private_key = *key;
  }
  return grpc::SslCredentials(ssl);
}

class RemoteChat {
 public:
  RemoteChat(std::unique_ptr<v1::Generation::Stub> stub, const ClientFlags& flags)
      : stub_(std::move(stub)), flags_(flags) {
    std::random_device device;
    session_prefix_ = absl::StrCat("client-", absl::Hex(device(), absl::kZeroPad8), "-");
  }

  // One Chat turn with `text`; in `session` when set.
  absl::Status Turn(const std::string& text, bool in_session, std::ostream& out) {
    v1::ChatRequest request;
    request.set_model(flags_.model);
    v1::ChatMessage* user = request.add_messages();
    user->set_role("user");
    user->set_content(text);
    if (in_session) request.set_session_id(SessionId());
    FillSampling(*request.mutable_sampling());
    grpc::ClientContext context;
    Authorize(context);
    auto status = Stream(stub_->Chat(&context, request).get(), out);
    if (in_session && status.ok()) open_ = true;
    return status;
  }

  // One raw completion of `text` (Generate, no chat template).
  absl::Status Complete(const std::string& text, std::ostream& out) {
    v1::GenerateRequest request;
    request.set_model(flags_.model);
    request.set_text(text);
    FillSampling(*request.mutable_sampling());
    grpc::ClientContext context;
    Authorize(context);
    return Stream(stub_->Generate(&context, request).get(), out);
  }

  absl::Status EndSession() {
    if (!open_) return absl::OkStatus();
    v1::ChatRequest request;
    request.set_model(flags_.model);
    request.set_session_id(SessionId());
    request.set_end_session(true);
    grpc::ClientContext context;
    Authorize(context);
    std::ostringstream ignored;
    absl::Status status = Stream(stub_->Chat(&context, request).get(), ignored);
    open_ = false;
    ++conversation_;
    return status;
  }

 private:
  std::string SessionId() const { return absl::StrCat(session_prefix_, conversation_); }

  void Authorize(grpc::ClientContext& context) const {
    if (!flags_.api_key.empty()) context.AddMetadata("authorization", "Bearer " + flags_.api_key);
  }

  void FillSampling(v1::SamplingParams& s) const {
    if (flags_.temperature) s.set_temperature(*flags_.temperature);
    if (flags_.top_p) s.set_top_p(*flags_.top_p);
    if (flags_.top_k) s.set_top_k(*flags_.top_k);
    if (flags_.max_tokens) s.set_max_tokens(*flags_.max_tokens);
  }

  static absl::Status Stream(grpc::ClientReader<v1::GenerateResponse>* reader, std::ostream& out) {
    v1::GenerateResponse response;
    while (reader->Read(&response)) out << response.text() << std::flush;
    return FromGrpc(reader->Finish());
  }

  std::unique_ptr<v1::Generation::Stub> stub_;
  const ClientFlags& flags_;
  std::string session_prefix_;
  int conversation_ = 0;
  bool open_ = false;
};

absl::Status RunClient(const ClientFlags& flags) {
  auto credentials = Credentials(flags);
  if (!credentials.ok()) return credentials.status();
  RemoteChat chat(v1::Generation::NewStub(grpc::CreateChannel(flags.target, *credentials)), flags);
  if (flags.prompt.has_value()) {
    absl::Status status = flags.raw ? chat.Complete(*flags.prompt, std::cout)
                                    : chat.Turn(*flags.prompt, /*in_session=*/false, std::cout);
    std::cout << "\n";
    return status;
  }
  return RunChatRepl(
      ChatRepl{.turn = [&](const std::string& text,
                           std::ostream& out) { return chat.Turn(text, /*in_session=*/true, out); },
               .reset = [&] { return chat.EndSession(); }},
      std::cin, std::cout, std::cerr);
}

}  // namespace

void AddClientCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ClientFlags>();
  CLI::App* cmd = app.add_subcommand("client", "Chat with a loom server (loom serve)");
  cmd->add_option("HOST:PORT", flags->target, "The server, e.g. 127.0.0.1:50051")->required();
  cmd->add_option("--model", flags->model, "Model name (default: the server's default model)");
  cmd->add_option("--api-key", flags->api_key, "Sent as 'authorization: Bearer KEY'");
  cmd->add_option("--prompt", flags->prompt, "Answer this once and exit");
  cmd->add_flag("--raw", flags->raw, "With --prompt: complete the text as is (no chat template)");
  cmd->add_option("--temperature", flags->temperature, "0 = greedy");
  cmd->add_option("--top-p", flags->top_p, "Nucleus mass in (0, 1]");
  cmd->add_option("--top-k", flags->top_k, "Keep the k most likely tokens (0 = off)");
  cmd->add_option("--max-tokens", flags->max_tokens, "Most tokens per reply");
  cmd->add_option("--tls-ca", flags->tls_ca, "PEM CA that signed the server's certificate");
  cmd->add_option("--tls-cert", flags->tls_cert, "PEM client certificate (mutual TLS)");
  cmd->add_option("--tls-key", flags->tls_key, "PEM key of --tls-cert");
  cmd->callback([flags, &exit_code] {
    if (auto status = RunClient(*flags); !status.ok()) {
      std::cerr << "loom client: " << absl::StatusCodeToString(status.code()) << ": "
                << status.message() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace loom
