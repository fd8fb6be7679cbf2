#include "tools/bench/grpc_sender.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tools/bench/token_timer.h"

namespace loom::bench {

GrpcSender::GrpcSender(GrpcTarget target, int concurrency) : target_(std::move(target)) {
  const int connections = (concurrency + kStreamsPerConnection - 1) / kStreamsPerConnection;
  for (int i = 0; i < connections; ++i) stubs_.push_back(NewStub(target_, i));
}

RequestRecord GrpcSender::Send(const BenchRequest& request) {
  using Clock = std::chrono::steady_clock;
  const uint64_t n = next_.fetch_add(1);
  v1::GenerateRequest proto;
  proto.set_model(target_.model);
  proto.set_request_id(absl::StrCat("bench-", n));
  for (int32_t id : request.prompt_ids) proto.mutable_tokens()->add_ids(static_cast<uint32_t>(id));
  v1::SamplingParams* sampling = proto.mutable_sampling();
  sampling->set_temperature(0);
  sampling->set_max_tokens(static_cast<uint32_t>(request.output_len));
  sampling->set_ignore_eos(true);

  RequestRecord record{.prompt_tokens = static_cast<int>(request.prompt_ids.size())};
  TokenTimer timer;
  grpc::ClientContext context;
  Authorize(target_, context);
  const Clock::time_point start = Clock::now();
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
      stubs_[n % stubs_.size()]->Generate(&context, proto);
  v1::GenerateResponse response;
  while (reader->Read(&response)) {
    timer.OnMessage(std::chrono::duration<double>(Clock::now() - start).count(),
                    response.token_ids_size());
  }
  record.status = FromGrpc(reader->Finish());
  record.completion_tokens = timer.num_tokens();
  record.ttft_s = timer.ttft_s();
  record.itl_s = timer.itl_s();
  if (record.status.ok() && !timer.has_first_token()) {
    record.status = absl::InternalError("the stream ended without a token");
  }
  return record;
}

}  // namespace loom::bench
