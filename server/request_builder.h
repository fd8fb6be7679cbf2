// Turns the proto's requests into engine Requests: tokenizes the prompt, applies the
// model's sampling defaults to unset fields, and checks what the engine cannot see
// (proto-only fields, ranges of unsigned fields, stop string limits).
//
// Every error is InvalidArgument naming the proto field (e.g. "sampling.top_p: ...")
// and, where there is one, the allowed range. The engine's Submit() checks the rest
// (prompt + max_tokens against the context), also naming the field.
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include "absl/status/statusor.h"
#include "engine/request.h"
#include "loom/v1/generation.pb.h"
#include "server/served_model.h"

namespace loom {

inline constexpr int kMaxStopStrings = 16;
inline constexpr size_t kMaxStopStringBytes = 256;
inline constexpr size_t kMaxRequestIdBytes = 256;

absl::StatusOr<Request> BuildGenerateRequest(const v1::GenerateRequest& proto,
                                             const ServedModel& model);

// Sampling parameters and stop conditions from `proto` over the model's defaults.
// `prompt_tokens` caps the default max_tokens to what the context has left.
absl::Status ApplySampling(const v1::SamplingParams& proto, const ServedModel& model,
                           int prompt_tokens, Request& request);

}  // namespace loom
