#include "tools/bench/engine_sender.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "tools/bench/token_timer.h"

namespace loom::bench {

RequestRecord EngineSender::Send(const BenchRequest& request) {
  using Clock = std::chrono::steady_clock;
  Request r;
  r.request_id = absl::StrCat("bench-", next_id_.fetch_add(1));
  r.prompt_ids = request.prompt_ids;
  r.sampling.temperature = 0;
  r.stop.max_tokens = request.output_len;
  r.stop.ignore_eos = true;

  RequestRecord record{.prompt_tokens = static_cast<int>(request.prompt_ids.size())};
  TokenTimer timer;
  const Clock::time_point start = Clock::now();
  auto channel = engine_->Submit(std::move(r));
  if (!channel.ok()) {
    record.status = channel.status();
    return record;
  }
  while (auto output = (*channel)->Next()) {
    timer.OnMessage(std::chrono::duration<double>(Clock::now() - start).count(),
                    static_cast<int>(output->token_ids.size()));
    if (!output->status.ok()) {
      record.status = output->status;
    } else if (output->finished && output->finish_reason == FinishReason::kCancelled) {
      record.status = absl::CancelledError("the engine cancelled the request");
    }
  }
  record.completion_tokens = timer.num_tokens();
  record.ttft_s = timer.ttft_s();
  record.itl_s = timer.itl_s();
  if (record.status.ok() && !timer.has_first_token()) {
    record.status = absl::InternalError("the request finished without a token");
  }
  return record;
}

}  // namespace loom::bench
