// Later turns of a session, rendered with a Jinja chat template.
//
// A Jinja template renders whole conversations; a session (a stateful sequence whose
// earlier turns' tokens and KV the server keeps) needs the text of the new messages only,
// without the BOS, default system prompt or anything else the template writes at the
// start. JinjaContinuation renders the new messages after a fixed dummy exchange (a user
// message and an assistant reply with sentinel contents) and keeps the text after the
// dummy reply's end-of-turn token.
//
// The end-of-turn token is found once, by Probe(): the first token the template writes
// after an assistant message's content, when that token is special (<|eot_id|> for
// Llama 3, <|im_end|> for Qwen, <｜end▁of▁sentence｜> for DeepSeek-V3); otherwise there is
// none and end_of_turn() is empty.
//
// Contract: the session's history ends with an assistant reply whose last token is the
// end-of-turn token, which the model generated when it stopped. Then
//   history + Render(new messages)
// is the text of the template's rendering of the whole conversation, as long as the
// template renders each turn the same whatever follows it. Whatever the template writes
// after the end-of-turn token (Qwen's "\n") is part of the continuation. Templates that
// rewrite earlier turns when others follow are caught: Render() fails when the rendering
// before the continuation differs from the probe's, e.g. DeepSeek-V3 gathering a new
// system message at the start. (Qwen3 drops earlier turns' <think> blocks on a full
// re-render; a session keeps them, since its history is what the model generated.)
//
// Thread-safety: immutable after Probe(); Render() may be called concurrently.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/text/jinja/chat_template.h"
#include "engine/text/tokenizer.h"

namespace loom {

class JinjaContinuation {
 public:
  // Renders the dummy exchange with `chat_template` (and options.special_tokens) and
  // finds its end-of-turn token with `tokenizer`, which is not kept.
  // Errors: the template's own errors on the dummy exchange; FailedPrecondition when it
  // does not write an assistant message's content as it is.
  static absl::StatusOr<JinjaContinuation> Probe(const ChatTemplate& chat_template,
                                                 const ChatTemplate::Options& options,
                                                 const Tokenizer& tokenizer);

  // The text that continues the session with `messages`, under `options`
  // (add_generation_prompt, special tokens and extra context as for a whole rendering).
  // Errors: the template's errors; InvalidArgument when the template renders the earlier
  // turns differently once `messages` follow them (see above).
  absl::StatusOr<std::string> Render(const ChatTemplate& chat_template,
                                     const std::vector<ChatMessage>& messages,
                                     const ChatTemplate::Options& options) const;

  // The end-of-turn token's text, or "" when the template has none.
  const std::string& end_of_turn() const { return end_of_turn_; }

 private:
  JinjaContinuation(std::string prefix, std::string end_of_turn)
      : prefix_(std::move(prefix)), end_of_turn_(std::move(end_of_turn)) {}

  // The rendering of the dummy exchange up to and including its end-of-turn token.
  std::string prefix_;
  std::string end_of_turn_;
};

}  // namespace loom
