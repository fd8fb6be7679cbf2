#include "tools/bench/grpc_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace loom::bench {

std::unique_ptr<v1::Generation::Stub> NewStub(const GrpcTarget& target, int connection) {
  grpc::ChannelArguments args;
  // Channels with different arguments never share a subchannel, hence a connection.
  args.SetInt("loom.bench.connection", connection);
  return v1::Generation::NewStub(
      grpc::CreateCustomChannel(target.address, grpc::InsecureChannelCredentials(), args));
}

void Authorize(const GrpcTarget& target, grpc::ClientContext& context) {
  if (!target.api_key.empty()) context.AddMetadata("authorization", "Bearer " + target.api_key);
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::StatusOr<RemoteModel> FetchRemoteModel(v1::Generation::Stub& stub, const GrpcTarget& target) {
  grpc::ClientContext context;
  Authorize(target, context);
  v1::ListModelsResponse response;
  const grpc::Status status = stub.ListModels(&context, v1::ListModelsRequest(), &response);
  if (!status.ok()) return FromGrpc(status);
  for (const v1::ModelInfo& info : response.models()) {
    if (!target.model.empty() && info.name() != target.model) continue;
    if (info.vocab_size() == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("the server does not report model '", info.name(),
                       "''s vocab_size (an older loom?); run a set dumped elsewhere with "
                       "--requests"));
    }
    RemoteModel model{.name = info.name(),
                      .vocab_size = static_cast<int32_t>(info.vocab_size()),
                      .max_context = static_cast<int>(info.max_context())};
    model.special_ids.assign(info.special_token_ids().begin(), info.special_token_ids().end());
    std::sort(model.special_ids.begin(), model.special_ids.end());
    return model;
  }
  return absl::NotFoundError(
      target.model.empty() ? std::string("the server lists no model")
                           : absl::StrCat("--model: the server has no model '", target.model, "'"));
}

EncodeFn RemoteEncoder(v1::Generation::Stub* stub, const GrpcTarget& target) {
  return [stub, target](const std::string& text,
                        bool special) -> absl::StatusOr<std::vector<int32_t>> {
    grpc::ClientContext context;
    Authorize(target, context);
    v1::TokenizeRequest request;
    request.set_model(target.model);
    request.set_text(text);
    request.set_add_special_tokens(special);
    v1::TokenizeResponse response;
    const grpc::Status status = stub->Tokenize(&context, request, &response);
    if (!status.ok()) return FromGrpc(status);
    return std::vector<int32_t>(response.ids().begin(), response.ids().end());
  };
}

}  // namespace loom::bench
