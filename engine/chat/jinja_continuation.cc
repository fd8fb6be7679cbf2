#include "engine/chat/jinja_continuation.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace loom {
namespace {

// Contents no real conversation contains, so their positions in a rendering are
// unambiguous. Plain ASCII words: templates that trim or escape content leave them alone.
constexpr char kDummyUser[] = "loom-continuation-probe-user";
constexpr char kDummyReply[] = "loom-continuation-probe-reply";
constexpr char kProbeNext[] = "loom-continuation-probe-next";

std::vector<ChatMessage> DummyExchange() {
  return {ChatMessage{.role = "user", .content = kDummyUser},
          ChatMessage{.role = "assistant", .content = kDummyReply}};
}

// The text of the first token of `suffix` when it is a special token, else "".
std::string LeadingSpecialToken(std::string_view suffix, const Tokenizer& tokenizer) {
  absl::StatusOr<std::vector<TokenId>> ids = tokenizer.Encode(suffix, false);
  if (!ids.ok() || ids->empty() || !tokenizer.IsSpecial(ids->front())) return "";
  const TokenId first = ids->front();
  absl::StatusOr<std::string> text = tokenizer.Decode({&first, 1}, false);
  if (!text.ok() || !suffix.starts_with(*text)) return "";
  return *std::move(text);
}

}  // namespace

absl::StatusOr<JinjaContinuation> JinjaContinuation::Probe(const ChatTemplate& chat_template,
                                                           const ChatTemplate::Options& options,
                                                           const Tokenizer& tokenizer) {
  // The dummy exchange followed by a user message: an assistant reply in the middle of a
  // conversation, as it is when a session continues (Qwen3, for one, renders a final
  // assistant message differently).
  std::vector<ChatMessage> messages = DummyExchange();
  messages.push_back(ChatMessage{.role = "user", .content = kProbeNext});
  ChatTemplate::Options probe_options = options;
  probe_options.add_generation_prompt = false;
  absl::StatusOr<std::string> text = chat_template.Render(messages, probe_options);
  if (!text.ok()) return text.status();
  const size_t reply = text->find(kDummyReply);
  if (reply == std::string::npos) {
    return absl::FailedPreconditionError(
        "the chat template does not write an assistant message's content as it is, so a "
        "session's later turns cannot be rendered with it");
  }
  const size_t reply_end = reply + std::string_view(kDummyReply).size();
  std::string end_of_turn =
      LeadingSpecialToken(std::string_view(*text).substr(reply_end), tokenizer);
  std::string prefix = text->substr(0, reply_end + end_of_turn.size());
  return JinjaContinuation(std::move(prefix), std::move(end_of_turn));
}

absl::StatusOr<std::string> JinjaContinuation::Render(const ChatTemplate& chat_template,
                                                      const std::vector<ChatMessage>& messages,
                                                      const ChatTemplate::Options& options) const {
  std::vector<ChatMessage> all = DummyExchange();
  all.insert(all.end(), messages.begin(), messages.end());
  absl::StatusOr<std::string> text = chat_template.Render(all, options);
  if (!text.ok()) return text.status();
  if (!absl::StartsWith(*text, prefix_)) {
    return absl::InvalidArgumentError(
        "these messages cannot continue a session with this chat template: it renders the "
        "earlier turns differently when they follow (for example, it gathers system messages "
        "at the start); send the whole conversation as a first turn");
  }
  return text->substr(prefix_.size());
}

}  // namespace loom
