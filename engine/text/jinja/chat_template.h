// A model's chat template: messages -> prompt text, as transformers' apply_chat_template.
//
// Hugging Face models ship a Jinja `chat_template` (in tokenizer_config.json or
// chat_template.jinja). ChatTemplate renders it with the variables transformers passes:
// `messages`, `tools` and `documents` (None unless given), `add_generation_prompt`, the
// special tokens (bos_token, eos_token, unk_token, pad_token: only those the tokenizer
// defines; the others stay undefined, as in transformers), and any extra variables
// (e.g. `enable_thinking`, `tools`), which override the rest.
//
// The result is the prompt text only; the caller tokenizes it WITHOUT adding special
// tokens again (the template already wrote BOS where the model wants one).
//
// Thread-safety: immutable after Parse()/LoadFromModelDir(); Render() may be called
// concurrently from any thread.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/text/jinja/budget.h"
#include "engine/text/jinja/template.h"
#include "nlohmann/json.hpp"

namespace loom {

struct ChatMessage {
  std::string role;
  std::string content;
  // More fields of the message (tool_calls, reasoning_content, name, ...): a JSON object
  // or null. Its members override role/content (e.g. {"content": null} for a message
  // that only calls tools).
  nlohmann::ordered_json extra = nullptr;
};

// The special-token strings of a tokenizer, as its chat template sees them.
struct ChatSpecialTokens {
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<std::string> unk_token;
  std::optional<std::string> pad_token;
};

// Reads bos/eos/unk/pad_token from `dir`/tokenizer_config.json, each a string or an
// AddedToken object {"content": ...}; null or absent ones stay unset, and so do all of
// them when the file does not exist. Errors: InvalidArgument for a file that is not a
// JSON object or a token of another shape.
absl::StatusOr<ChatSpecialTokens> ReadChatSpecialTokens(const std::filesystem::path& dir);

class ChatTemplate {
 public:
  struct Options {
    bool add_generation_prompt = true;
    ChatSpecialTokens special_tokens;
    // More template variables, a JSON object (or null for none); they override the
    // variables above, `messages` included.
    nlohmann::ordered_json extra_context = nullptr;
    // Output size (default 1 MiB), work and macro-depth bounds.
    jinja::RenderLimits limits;
  };

  // Parses a template source. Errors: InvalidArgument "chat_template:LINE: message" for
  // syntax errors and unsupported constructs (naming them).
  static absl::StatusOr<ChatTemplate> Parse(std::string_view source);

  // Loads the template of the model in `dir`: chat_template.jinja when present (it wins,
  // as in transformers), else tokenizer_config.json's `chat_template`, a string or a
  // list of {"name", "template"} from which `name` is picked.
  // Errors: NotFound when the model has no chat template (or none named `name`);
  // InvalidArgument for unreadable JSON or a template that does not parse.
  static absl::StatusOr<ChatTemplate> LoadFromModelDir(const std::filesystem::path& dir,
                                                       std::string_view name = "default");

  // Renders `messages`. Errors: InvalidArgument "chat_template:LINE: message" when the
  // template fails or rejects the conversation (raise_exception's message is kept);
  // ResourceExhausted past options.limits.
  absl::StatusOr<std::string> Render(const std::vector<ChatMessage>& messages,
                                     const Options& options) const;

  // As above, with `messages` a JSON array passed through as is (so tool calls,
  // reasoning_content, multimodal content lists reach the template).
  // Errors: also InvalidArgument when `messages` is not an array or extra_context is
  // neither an object nor null.
  absl::StatusOr<std::string> RenderJson(const nlohmann::ordered_json& messages,
                                         const Options& options) const;

  const jinja::Template& jinja_template() const { return template_; }

 private:
  explicit ChatTemplate(jinja::Template t) : template_(std::move(t)) {}

  jinja::Template template_;
};

}  // namespace loom
