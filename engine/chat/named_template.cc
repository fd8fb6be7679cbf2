#include "engine/chat/named_template.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace loom {
namespace {

// The role and content a message renders with: `extra` overrides them, as in
// ChatTemplate, but a named template can render only text.
absl::StatusOr<std::pair<std::string, std::string>> RoleAndContent(const ChatMessage& message,
                                                                   size_t index) {
  std::string role = message.role;
  std::string content = message.content;
  if (message.extra.is_object()) {
    if (auto it = message.extra.find("role"); it != message.extra.end()) {
      if (!it->is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat("messages[", index, "].role must be a string"));
      }
      role = it->get<std::string>();
    }
    if (auto it = message.extra.find("content"); it != message.extra.end()) {
      if (!it->is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "messages[", index, "].content must be a string: a named chat template renders text"));
      }
      content = it->get<std::string>();
    }
  }
  return std::make_pair(std::move(role), std::move(content));
}

}  // namespace

std::string_view ChatCapabilityName(ChatCapability capability) {
  switch (capability) {
    case ChatCapability::kChat:
      return "chat";
    case ChatCapability::kCompletion:
      return "completion";
  }
  return "chat";
}

absl::StatusOr<std::string> RenderNamedChatTemplate(const NamedChatTemplate& t,
                                                    const std::vector<ChatMessage>& messages,
                                                    const NamedRenderOptions& options) {
  if (t.capability != ChatCapability::kChat) {
    return absl::FailedPreconditionError(
        absl::StrCat("chat template '", t.name, "' has capability '",
                     std::string(ChatCapabilityName(t.capability)),
                     "', not 'chat': the model is not meant for chat requests"));
  }
  const bool has_tool = !t.tool.empty() || !t.eotool.empty();
  std::string text;
  if (options.first_turn) {
    text += t.bos;
  } else {
    text += t.separator;
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    absl::StatusOr<std::pair<std::string, std::string>> message = RoleAndContent(messages[i], i);
    if (!message.ok()) return message.status();
    const auto& [role, content] = *message;
    // The default system prompt stands in for a system message the caller did not send.
    if (i == 0 && options.first_turn && t.meta_instruction.has_value() && role != "system") {
      absl::StrAppend(&text, t.system, *t.meta_instruction, t.eosys);
    }
    if (role == "system") {
      absl::StrAppend(&text, t.system, content, t.eosys);
    } else if (role == "user") {
      absl::StrAppend(&text, t.user, content, t.eoh);
    } else if (role == "assistant") {
      absl::StrAppend(&text, t.assistant, content, t.eoa, t.separator);
    } else if (role == "tool" && has_tool) {
      absl::StrAppend(&text, t.tool, content, t.eotool);
    } else {
      std::vector<std::string> allowed = {"system", "user", "assistant"};
      if (has_tool) allowed.push_back("tool");
      return absl::InvalidArgumentError(absl::StrCat("messages[", i, "].role is '", role,
                                                     "'; chat template '", t.name, "' accepts ",
                                                     absl::StrJoin(allowed, ", ")));
    }
  }
  if (options.add_generation_prompt) text += t.generation_prompt.value_or(t.assistant);
  return text;
}

}  // namespace loom
