// ChatFormatter: chat messages -> prompt text, the one place where the server and the CLI
// turn a chat request into a prompt, with the stop tokens and strings that go with it.
//
// The template comes from, in order of precedence:
//   1. the model YAML's `chat_template` (chat_template_yaml.h): a Jinja source, or a
//      named template (built-in or defined in the YAML);
//   2. the model directory's Hugging Face template (chat_template.jinja or
//      tokenizer_config.json's chat_template; see engine/text/jinja/chat_template.h);
//   3. none: the formatter is still created, so that plain generation works, but
//      Render() fails.
//
// Tokenizing: encode Render()'s text WITHOUT adding special tokens (add_special_tokens()
// is always false). Jinja templates write BOS themselves, and named templates carry the
// BOS text (NamedChatTemplate::bos, set by every built-in whose model wants one), so
// adding it again would double it.
//
// Sessions: RenderOptions::first_turn == false renders the messages of a later turn of a
// stateful session, whose earlier turns' tokens the server already holds. The contract
// for both kinds of template: the history ends with the assistant's reply followed by
// end_of_turn() (the token the model stopped on: <|eot_id|>, <|im_end|>, ...), and then
// history + Render(new messages, first_turn = false) is the text of rendering the whole
// conversation (where the template renders each turn independently of the later ones).
// Nothing written only at the start (BOS, the default system prompt) is repeated.
//   - Named templates follow LMDeploy's sequence_start = false: the text begins with the
//     template's separator, then the messages.
//   - Jinja templates render the messages after a fixed dummy exchange and keep what
//     follows its end-of-turn token (jinja_continuation.h).
//
// Stop conditions: stop_token_ids() and stop_strings() come from a named template's
// stop_words: a word that is exactly one token of the tokenizer (its id by TokenToId, and
// encoding the word gives that id alone) is a stop token id, any other a stop string.
// Jinja templates carry no stop words, so both are empty: the model's end-of-turn token
// must come from generation_config.json's eos_token_id (ModelConfig::eos_token_ids), as
// with transformers' generate(); Llama 3 Instruct lists <|eot_id|> there.
//
// Thread-safety: immutable after Create(); every const method may be called concurrently.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/chat/chat_template_override.h"
#include "engine/chat/jinja_continuation.h"
#include "engine/chat/named_template.h"
#include "engine/text/jinja/chat_template.h"
#include "engine/text/token_id.h"
#include "engine/text/tokenizer.h"
#include "nlohmann/json.hpp"

namespace loom {

class ChatFormatter {
 public:
  // Where the template in use came from.
  enum class Source {
    kNone,       // no template: Render() fails
    kModel,      // the model directory's Jinja template
    kYamlJinja,  // a Jinja template from the model YAML
    kYamlNamed,  // a named template from the model YAML
  };

  struct RenderOptions {
    // Open the assistant's reply after the messages (transformers' flag; a named
    // template writes its generation_prompt).
    bool add_generation_prompt = true;
    // False: the messages continue a session (see the file comment).
    bool first_turn = true;
    // More Jinja variables (e.g. {"enable_thinking": false}), a JSON object or null.
    // Named templates have no variables and ignore it.
    nlohmann::ordered_json extra_context = nullptr;
  };

  // Reads the special tokens of `model_dir`'s tokenizer_config.json, loads its chat
  // template unless `yaml_template` overrides it, and resolves stop words with
  // `tokenizer` (used only during Create; not kept).
  // Errors: InvalidArgument for an unreadable tokenizer_config.json, a model template or
  // YAML Jinja source that does not parse (the latter's message begins "model YAML
  // chat_template: "). A model without any template is not an error.
  static absl::StatusOr<ChatFormatter> Create(const std::filesystem::path& model_dir,
                                              const Tokenizer& tokenizer,
                                              const ChatTemplateOverride& yaml_template);

  // The prompt text of `messages`.
  // Errors: FailedPrecondition when there is no chat template (naming the YAML key that
  // adds one), or for a continuation turn with a Jinja template whose turns cannot be
  // split (its reason); InvalidArgument for no messages, and for what the template
  // rejects: roles a named template does not know (naming messages[i].role), a
  // conversation the Jinja template raises on, a continuation the template would render
  // differently; ResourceExhausted past the Jinja render limits.
  absl::StatusOr<std::string> Render(const std::vector<ChatMessage>& messages,
                                     const RenderOptions& options) const;

  // Whether to add special tokens when encoding Render()'s text: never (see above).
  bool add_special_tokens() const { return false; }

  const std::vector<TokenId>& stop_token_ids() const { return stop_token_ids_; }
  const std::vector<std::string>& stop_strings() const { return stop_strings_; }

  // The text a session's history ends with after each reply (see above): a named
  // template's eoa, a Jinja template's end-of-turn token; "" when there is none.
  const std::string& end_of_turn() const { return end_of_turn_; }

  Source source() const { return source_; }
  // The template in use, for logs: "named template 'llama3' from the model YAML", ...
  std::string Describe() const;

 private:
  ChatFormatter() = default;

  Source source_ = Source::kNone;
  ChatSpecialTokens special_tokens_;
  std::optional<ChatTemplate> jinja_;
  std::optional<NamedChatTemplate> named_;
  // How a Jinja template's later turns render, or why they cannot.
  absl::StatusOr<JinjaContinuation> continuation_ =
      absl::FailedPreconditionError("no Jinja chat template");
  std::vector<TokenId> stop_token_ids_;
  std::vector<std::string> stop_strings_;
  std::string end_of_turn_;
};

}  // namespace loom
