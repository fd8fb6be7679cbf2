#include "server/generate_reactor.h"

#include <utility>

#include "server/status.h"

namespace loom {
namespace {

class RejectedCall final : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  explicit RejectedCall(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

v1::FinishReason ToProto(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return v1::FINISH_REASON_STOP;
    case FinishReason::kLength:
      return v1::FINISH_REASON_LENGTH;
    case FinishReason::kCancelled:
      break;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

// Appends the tokens, text and logprobs of `out` to `response`; true if it had any.
bool Append(const RequestOutput& out, v1::GenerateResponse& response) {
  for (int32_t id : out.token_ids) response.add_token_ids(static_cast<uint32_t>(id));
  response.mutable_text()->append(out.text);
  for (const SampledToken& token : out.logprobs) {
    v1::TokenLogprob* lp = response.add_logprobs();
    lp->set_token_id(static_cast<uint32_t>(token.id));
    lp->set_logprob(token.logprob);
    for (const auto& [id, logprob] : token.top_logprobs) {
      v1::TopLogprob* top = lp->add_top_logprobs();
      top->set_token_id(static_cast<uint32_t>(id));
      top->set_logprob(logprob);
    }
  }
  return !out.token_ids.empty() || !out.text.empty();
}

}  // namespace

GenerateReactor* GenerateReactor::Start(std::shared_ptr<OutputChannel> channel,
                                        std::string request_id, ActiveCalls* calls) {
  std::shared_ptr<GenerateReactor> reactor(
      new GenerateReactor(std::move(channel), std::move(request_id), calls));
  reactor->self_ = reactor;
  calls->Add(reactor->channel_);
  reactor->channel_->SetNotifier([weak = std::weak_ptr<GenerateReactor>(reactor)] {
    if (auto r = weak.lock()) r->Pump();
  });
  reactor->Pump();  // whatever the engine pushed before the notifier was set
  return reactor.get();
}

grpc::ServerWriteReactor<v1::GenerateResponse>* GenerateReactor::Reject(
    const grpc::Status& status) {
  return new RejectedCall(status);
}

GenerateReactor::GenerateReactor(std::shared_ptr<OutputChannel> channel, std::string request_id,
                                 ActiveCalls* calls)
    : channel_(std::move(channel)), request_id_(std::move(request_id)), calls_(calls) {}

void GenerateReactor::Pump() {
  enum class Action { kNone, kWrite, kWriteAndFinish, kFinish };
  Action action = Action::kNone;
  const v1::GenerateResponse* message = nullptr;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (writing_ || finished_) return;
    response_.Clear();
    response_.set_request_id(request_id_);
    message = &response_;
    bool has_data = false;
    bool completed = false;             // finished with a reason and usage
    std::optional<grpc::Status> ended;  // ended otherwise
    while (std::optional<RequestOutput> out = channel_->TryNext()) {
      has_data |= Append(*out, response_);
      if (!out->status.ok()) {
        ended = ToGrpcStatus(out->status);
        break;
      }
      if (!out->finished) continue;
      if (out->finish_reason == FinishReason::kCancelled) {
        ended = client_cancelled_
                    ? grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the call")
                    : grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                   "the server is shutting down and cancelled the request");
      } else {
        response_.set_finish_reason(ToProto(out->finish_reason));
        v1::Usage* usage = response_.mutable_usage();
        usage->set_prompt_tokens(static_cast<uint32_t>(out->usage.prompt_tokens));
        usage->set_completion_tokens(static_cast<uint32_t>(out->usage.completion_tokens));
        usage->set_cached_prompt_tokens(static_cast<uint32_t>(out->usage.cached_prompt_tokens));
        completed = true;
      }
      break;
    }
    if (completed) {
      finished_ = true;
      action = Action::kWriteAndFinish;
    } else if (ended.has_value()) {
      if (has_data && !client_cancelled_) {
        writing_ = true;
        finish_after_write_ = *ended;
        action = Action::kWrite;
      } else {
        finished_ = true;
        status = *ended;
        action = Action::kFinish;
      }
    } else if (has_data && !client_cancelled_) {
      writing_ = true;
      action = Action::kWrite;
    }
  }
  // gRPC may run reactions inline, so it is called without mu_ held; `response_` stays
  // untouched until the write is done.
  switch (action) {
    case Action::kNone:
      break;
    case Action::kWrite:
      StartWrite(message);
      break;
    case Action::kWriteAndFinish:
      StartWriteAndFinish(message, grpc::WriteOptions(), grpc::Status::OK);
      break;
    case Action::kFinish:
      Finish(status);
      break;
  }
}

void GenerateReactor::OnWriteDone(bool ok) {
  std::optional<grpc::Status> finish;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) client_cancelled_ = true;  // the client is gone
    if (finish_after_write_.has_value()) {
      finished_ = true;
      finish = std::exchange(finish_after_write_, std::nullopt);
    }
  }
  if (!ok) channel_->Cancel();
  if (finish.has_value()) {
    Finish(*finish);
  } else {
    Pump();
  }
}

void GenerateReactor::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    client_cancelled_ = true;
  }
  channel_->Cancel();  // the engine ends the request at its next step and pushes its end
  Pump();
}

void GenerateReactor::OnDone() {
  calls_->Remove(channel_);
  channel_->Cancel();  // a no-op for a request that finished
  std::shared_ptr<GenerateReactor> last = std::move(self_);
}

}  // namespace loom
