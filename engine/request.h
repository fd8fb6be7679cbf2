// What a caller asks the engine for, and what comes back on the request's channel.
// The names match the proto (GenerateRequest, SamplingParams, Usage, FinishReason).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/sampler.h"
#include "engine/sampling_params.h"

namespace loom {

// When a request ends. max_tokens always applies; the model's EOS ids apply unless
// ignore_eos; stop_token_ids and stop strings always apply.
struct StopConditions {
  int max_tokens = 16;
  std::vector<int32_t> stop_token_ids;
  std::vector<std::string> stop;  // stop strings; may span tokens; excluded from text
  bool ignore_eos = false;
};

struct Request {
  std::string request_id;
  std::vector<int32_t> prompt_ids;
  SamplingParams sampling;
  StopConditions stop;
  bool skip_special_tokens = true;  // for the streamed text
  // A request still queued at its deadline fails with DeadlineExceeded.
  std::optional<absl::Time> deadline;
  // A stateful session (LMDeploy's interactive mode), or empty for none. A turn's
  // prompt_ids are only its new tokens: the model sees every earlier turn's tokens
  // (prompts and outputs) before them, and their KV stays resident between turns.
  // Usage then counts the whole context as prompt tokens, and the resident part as
  // cached. One turn per session at a time.
  std::string session_id;
  // For a session turn: the prompt to use instead of prompt_ids when the session is new,
  // e.g. with BOS or a chat template's preamble that later turns must not repeat.
  // Empty: prompt_ids either way.
  std::vector<int32_t> first_turn_prompt_ids;
  // Close the session after this turn. With an empty prompt: close it now (a turn in
  // flight finishes first); the reply is an empty finished output.
  bool end_session = false;
};

enum class FinishReason { kStop, kLength, kCancelled };

// "stop" | "length" | "cancelled": the words of the proto and the metrics.
const char* FinishReasonName(FinishReason reason);

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_prompt_tokens = 0;  // prompt tokens whose KV came from the prefix cache
};

// One message on a request's output channel: the tokens made since the last message
// and their text. The last message of a request has `finished` set, with the reason
// and usage, or a non-OK `status` when the request failed (then it may hold no tokens).
struct RequestOutput {
  std::vector<int32_t> token_ids;
  std::string text;  // whole UTF-8 characters only; never text after a stop string
  std::vector<SampledToken> logprobs;  // per token, when the request asked for logprobs
  bool finished = false;
  FinishReason finish_reason = FinishReason::kLength;
  Usage usage;
  absl::Status status;
};

}  // namespace loom
