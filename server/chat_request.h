// Builds the engine Request of a Chat call: checks the messages, renders them with the
// model's chat template, and adds the template's stop words.
//
// With a session, the prompt holds only the new messages rendered as a later turn, and
// the first-turn rendering (with BOS and any default system prompt) goes in
// Request::first_turn_prompt_ids for a session the engine does not know yet.
//
// Errors: InvalidArgument naming the field (messages, messages[i].role, sampling.*);
// FailedPrecondition when the model has no chat template.
#pragma once

#include "absl/status/statusor.h"
#include "engine/request.h"
#include "loom/v1/generation.pb.h"
#include "server/served_model.h"

namespace loom {

inline constexpr int kMaxChatMessages = 1024;

absl::StatusOr<Request> BuildChatRequest(const v1::ChatRequest& proto, const ServedModel& model);

}  // namespace loom
