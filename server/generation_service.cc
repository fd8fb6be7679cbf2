#include "server/generation_service.h"

#include <chrono>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/chat_request.h"
#include "server/generate_reactor.h"
#include "server/request_builder.h"
#include "server/status.h"

namespace loom {
namespace {

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

uint64_t RandomSalt() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) | device();
}

}  // namespace

GenerationService::GenerationService(const ModelRegistry* models, const ApiKeys* api_keys,
                                     ActiveCalls* calls)
    : models_(models), api_keys_(api_keys), calls_(calls), request_id_salt_(RandomSalt()) {
  for (const auto& model : models_->models()) {
    counters_.try_emplace(model->name, std::make_unique<RequestCounters>());
  }
}

void GenerationService::CountRefused(const std::string& model, const absl::Status& status) {
  auto resolved = models_->Find(model);
  if (!resolved.ok()) return;
  auto it = counters_.find((*resolved)->name);
  if (it == counters_.end()) return;
  if (status.code() == absl::StatusCode::kInvalidArgument ||
      status.code() == absl::StatusCode::kFailedPrecondition) {
    it->second->invalid.fetch_add(1, std::memory_order_relaxed);
  } else {
    it->second->rejected.fetch_add(1, std::memory_order_relaxed);
  }
}

absl::Status GenerationService::Admit(const grpc::CallbackServerContext& context) const {
  if (draining_.load(std::memory_order_acquire)) {
    return absl::UnavailableError("the server is draining and takes no new calls");
  }
  std::string_view authorization;
  const auto& metadata = context.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization = std::string_view(it->second.data(), it->second.size());
  }
  return api_keys_->Check(authorization);
}

std::string GenerationService::NewRequestId() {
  const uint64_t n = next_request_id_.fetch_add(1, std::memory_order_relaxed);
  return absl::StrCat("req-", absl::Hex(request_id_salt_, absl::kZeroPad16), "-", n);
}

grpc::ServerWriteReactor<v1::GenerateResponse>* GenerationService::Submit(
    grpc::CallbackServerContext* context, ServedModel& model, Request request) {
  if (request.request_id.empty()) request.request_id = NewRequestId();
  if (context->deadline() != std::chrono::system_clock::time_point::max()) {
    request.deadline = absl::FromChrono(context->deadline());
  }
  std::string request_id = request.request_id;
  auto channel = model.engine->Submit(std::move(request));
  if (!channel.ok()) {
    CountRefused(model.name, channel.status());
    return GenerateReactor::Reject(ToGrpcStatus(channel.status()));
  }
  return GenerateReactor::Start(*std::move(channel), std::move(request_id), calls_);
}

grpc::ServerWriteReactor<v1::GenerateResponse>* GenerationService::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* proto) {
  if (auto status = Admit(*context); !status.ok()) {
    CountRefused(proto->model(), status);
    return GenerateReactor::Reject(ToGrpcStatus(status));
  }
  auto model = models_->Find(proto->model());
  if (!model.ok()) return GenerateReactor::Reject(ToGrpcStatus(model.status()));
  auto request = BuildGenerateRequest(*proto, **model);
  if (!request.ok()) {
    CountRefused(proto->model(), request.status());
    return GenerateReactor::Reject(ToGrpcStatus(request.status()));
  }
  return Submit(context, **model, *std::move(request));
}

grpc::ServerWriteReactor<v1::GenerateResponse>* GenerationService::Chat(
    grpc::CallbackServerContext* context, const v1::ChatRequest* proto) {
  if (auto status = Admit(*context); !status.ok()) {
    CountRefused(proto->model(), status);
    return GenerateReactor::Reject(ToGrpcStatus(status));
  }
  auto model = models_->Find(proto->model());
  if (!model.ok()) return GenerateReactor::Reject(ToGrpcStatus(model.status()));
  auto request = BuildChatRequest(*proto, **model);
  if (!request.ok()) {
    CountRefused(proto->model(), request.status());
    return GenerateReactor::Reject(ToGrpcStatus(request.status()));
  }
  return Submit(context, **model, *std::move(request));
}

grpc::ServerUnaryReactor* GenerationService::Tokenize(grpc::CallbackServerContext* context,
                                                      const v1::TokenizeRequest* request,
                                                      v1::TokenizeResponse* response) {
  if (auto status = Admit(*context); !status.ok()) return FinishUnary(context, status);
  auto model = models_->Find(request->model());
  if (!model.ok()) return FinishUnary(context, model.status());
  const bool add_special_tokens =
      request->has_add_special_tokens() ? request->add_special_tokens() : true;
  auto ids = (*model)->engine->model().tokenizer->Encode(request->text(), add_special_tokens);
  if (!ids.ok()) {
    return FinishUnary(context,
                       absl::InvalidArgumentError(absl::StrCat("text: ", ids.status().message())));
  }
  for (TokenId id : *ids) response->add_ids(static_cast<uint32_t>(id));
  return FinishUnary(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* GenerationService::ListModels(grpc::CallbackServerContext* context,
                                                        const v1::ListModelsRequest* /*request*/,
                                                        v1::ListModelsResponse* response) {
  if (auto status = Admit(*context); !status.ok()) return FinishUnary(context, status);
  for (const auto& model : models_->models()) {
    v1::ModelInfo* info = response->add_models();
    info->set_name(model->name);
    info->set_max_context(static_cast<uint32_t>(model->engine->model().session_len));
    const Tokenizer& tokenizer = *model->engine->model().tokenizer;
    info->set_vocab_size(static_cast<uint32_t>(tokenizer.vocab_size()));
    for (TokenId id : tokenizer.SpecialTokenIds()) {
      info->add_special_token_ids(static_cast<uint32_t>(id));
    }
  }
  return FinishUnary(context, absl::OkStatus());
}

}  // namespace loom
