#include "engine/generator.h"

#include <algorithm>
#include <span>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/sampler.h"

namespace loom {

Generator::Generator(ModelRunner* runner, int session_len)
    : runner_(runner),
      session_len_(session_len),
      pool_(runner->options().num_blocks, runner->options().block_size,
            /*enable_prefix_caching=*/false) {}

absl::Status Generator::Validate(const GenerateRequest& request) const {
  if (request.prompt_ids.empty()) {
    return absl::InvalidArgumentError("prompt: must hold at least one token");
  }
  if (request.max_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_tokens: must be at least 1, got ", request.max_tokens));
  }
  const int64_t total = static_cast<int64_t>(request.prompt_ids.size()) + request.max_tokens;
  if (total > session_len_) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt (", request.prompt_ids.size(), " tokens) + max_tokens (",
                     request.max_tokens, ") = ", total, " exceeds session_len ", session_len_));
  }
  const int vocab = runner_->config().vocab_size;
  for (int32_t id : request.prompt_ids) {
    if (id < 0 || id >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("prompt: token id ", id, " is outside the vocabulary [0, ", vocab, ")"));
    }
  }
  if (auto status = ValidateSamplingParams(request.sampling); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("sampling: ", status.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<GenerateResult> Generator::Generate(const GenerateRequest& request,
                                                   const std::function<void(int32_t)>& on_token) {
  if (auto status = Validate(request); !status.ok()) return status;
  const int block_size = runner_->options().block_size;
  const int chunk = runner_->options().max_num_tokens;
  const int max_len = static_cast<int>(request.prompt_ids.size()) + request.max_tokens;

  // Blocks for the whole session up front: one request, so nothing to preempt.
  auto blocks = pool_.Allocate((max_len + block_size - 1) / block_size);
  if (!blocks.ok()) return blocks.status();
  absl::Cleanup release_blocks = [&] { pool_.Release(*blocks); };

  Sampler sampler(request.sampling, request.prompt_ids);
  GenerateResult result;
  std::vector<int32_t> tokens = request.prompt_ids;
  int cached = 0;  // tokens whose keys and values are in the pool
  while (true) {
    // Run everything not yet cached: the prompt in chunks, then one token per step.
    const int end = std::min<int>(static_cast<int>(tokens.size()), cached + chunk);
    const bool last_chunk = end == static_cast<int>(tokens.size());
    ForwardBatch batch;
    batch.AddSequence(std::span<const int32_t>(tokens).subspan(cached, end - cached), cached,
                      *blocks, block_size, /*want_logits=*/last_chunk);
    auto logits = runner_->Forward(batch);
    if (!logits.ok()) return logits.status();
    cached = end;
    if (!last_chunk) continue;

    SampledToken sampled = sampler.Sample(*logits);
    const int32_t next = sampled.id;
    result.output_ids.push_back(next);
    result.sampled.push_back(std::move(sampled));
    tokens.push_back(next);
    if (on_token) on_token(next);
    if (std::find(request.stop_token_ids.begin(), request.stop_token_ids.end(), next) !=
        request.stop_token_ids.end()) {
      result.finish_reason = FinishReason::kStop;
      return result;
    }
    if (static_cast<int>(result.output_ids.size()) >= request.max_tokens) {
      result.finish_reason = FinishReason::kLength;
      return result;
    }
  }
}

}  // namespace loom
