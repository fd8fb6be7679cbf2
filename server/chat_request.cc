#include "server/chat_request.h"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/chat/chat_formatter.h"
#include "server/request_builder.h"

namespace loom {
namespace {

constexpr std::array<const char*, 4> kRoles = {"system", "user", "assistant", "tool"};

absl::StatusOr<std::vector<int32_t>> RenderAndEncode(const ChatFormatter& chat,
                                                     const Tokenizer& tokenizer,
                                                     const std::vector<ChatMessage>& messages,
                                                     bool add_generation_prompt, bool first_turn) {
  auto text = chat.Render(
      messages, {.add_generation_prompt = add_generation_prompt, .first_turn = first_turn});
  if (!text.ok()) return text.status();
  auto ids = tokenizer.Encode(*text, chat.add_special_tokens());
  if (!ids.ok()) return ids.status();
  if (ids->empty()) return absl::InvalidArgumentError("messages: render to no tokens");
  return *std::move(ids);
}

}  // namespace

absl::StatusOr<Request> BuildChatRequest(const v1::ChatRequest& proto, const ServedModel& model) {
  if (proto.request_id().size() > kMaxRequestIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("request_id: at most ", kMaxRequestIdBytes,
                                                   " bytes, got ", proto.request_id().size()));
  }
  Request request;
  request.request_id = proto.request_id();
  request.session_id = proto.session_id();
  request.end_session = proto.end_session();
  const bool ends_only =
      proto.end_session() && !proto.session_id().empty() && proto.messages().empty();
  if (proto.messages().empty() && !ends_only) {
    return absl::InvalidArgumentError("messages: must hold at least one message");
  }
  if (proto.messages_size() > kMaxChatMessages) {
    return absl::InvalidArgumentError(absl::StrCat("messages: at most ", kMaxChatMessages,
                                                   " messages, got ", proto.messages_size()));
  }
  std::vector<ChatMessage> messages;
  for (int i = 0; i < proto.messages_size(); ++i) {
    const v1::ChatMessage& m = proto.messages(i);
    if (std::find(kRoles.begin(), kRoles.end(), m.role()) == kRoles.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "messages[", i, "].role: '", m.role(), "' is not one of system, user, assistant, tool"));
    }
    messages.push_back(ChatMessage{.role = m.role(), .content = m.content()});
  }
  if (!messages.empty()) {
    if (model.chat == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "model '", model.name, "' has no chat template; set chat_template in its YAML"));
    }
    const Tokenizer& tokenizer = *model.engine->model().tokenizer;
    const bool add_generation_prompt =
        proto.has_add_generation_prompt() ? proto.add_generation_prompt() : true;
    auto first = RenderAndEncode(*model.chat, tokenizer, messages, add_generation_prompt, true);
    if (!first.ok()) return first.status();
    if (request.session_id.empty()) {
      request.prompt_ids = *std::move(first);
    } else {
      auto later = RenderAndEncode(*model.chat, tokenizer, messages, add_generation_prompt, false);
      if (!later.ok()) return later.status();
      request.prompt_ids = *std::move(later);
      request.first_turn_prompt_ids = *std::move(first);
    }
  }
  const int prompt_tokens =
      static_cast<int>(std::max(request.prompt_ids.size(), request.first_turn_prompt_ids.size()));
  if (auto status = ApplySampling(proto.sampling(), model, prompt_tokens, request); !status.ok()) {
    return status;
  }
  if (model.chat != nullptr) {
    for (TokenId id : model.chat->stop_token_ids()) request.stop.stop_token_ids.push_back(id);
    for (const std::string& word : model.chat->stop_strings()) request.stop.stop.push_back(word);
  }
  return request;
}

}  // namespace loom
