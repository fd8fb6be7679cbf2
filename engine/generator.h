// Runs one request at a time to completion on a model runner: the path behind
// `loom generate`. The continuous-batching worker serves many requests through the same
// ModelRunner and ForwardBatch; this class is its single-sequence form.
//
// Thread-safety: worker-thread only (it drives the runner).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/block_pool.h"
#include "engine/model_runner.h"
#include "engine/request.h"
#include "engine/sampler.h"
#include "engine/sampling_params.h"

namespace loom {

struct GenerateRequest {
  std::vector<int32_t> prompt_ids;
  SamplingParams sampling;
  int max_tokens = 128;
  std::vector<int32_t> stop_token_ids;  // e.g. the model's EOS ids; empty = none
};

struct GenerateResult {
  std::vector<int32_t> output_ids;    // includes the stop token when one ended generation
  std::vector<SampledToken> sampled;  // per output token: its logprob and alternatives
  FinishReason finish_reason = FinishReason::kLength;
};

class Generator {
 public:
  // `runner` must outlive the generator. `session_len` bounds prompt + output.
  Generator(ModelRunner* runner, int session_len);

  // Prefills the prompt in chunks of the runner's max_num_tokens, then decodes until a
  // stop token or max_tokens. `on_token`, when set, sees each new token as it is made.
  // InvalidArgument naming the field for an empty prompt, max_tokens < 1, a prompt +
  // max_tokens over session_len, bad sampling parameters or token ids outside the
  // vocabulary. The KV blocks are returned to the pool on every path.
  absl::StatusOr<GenerateResult> Generate(const GenerateRequest& request,
                                          const std::function<void(int32_t)>& on_token = {});

 private:
  absl::Status Validate(const GenerateRequest& request) const;

  ModelRunner* runner_;
  int session_len_;
  BlockPool pool_;
};

}  // namespace loom
