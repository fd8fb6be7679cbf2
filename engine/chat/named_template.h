// A chat template defined by its pieces of text, as LMDeploy's BaseChatTemplate
// (lmdeploy/model.py): each message is its role's prefix, its content and its role's
// suffix, so a conversation renders as
//
//   {bos}{system}{meta_instruction}{eosys}{user}{u1}{eoh}{assistant}{a1}{eoa}{separator}
//   {user}{u2}{eoh}{generation_prompt}
//
// Models define one in their YAML (see chat_template_yaml.h) when their Hugging Face
// directory has no Jinja template, or to override it; builtin_templates.h names the
// well-known ones. ChatFormatter (chat_formatter.h) is what callers use.
//
// Where loom differs from LMDeploy, and why:
// - `bos` is explicit. LMDeploy lets the tokenizer add BOS on a sequence's first turn
//   (Llama 3 and DeepSeek classes write it into the text); loom tokenizes every chat
//   prompt WITHOUT special tokens, as transformers does for Jinja templates, so a named
//   template writes its BOS text itself.
// - add_generation_prompt is transformers' flag: when set, `generation_prompt` follows the
//   messages; when not, nothing does. A final assistant message is closed with
//   eoa + separator like any other (LMDeploy always opens a reply and leaves a final
//   assistant message open as a prefix of the response).
// - `generation_prompt` defaults to `assistant`; it exists for Vicuna, whose LMDeploy
//   class drops the trailing space of "ASSISTANT: " when it opens the reply.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/text/jinja/chat_template.h"

namespace loom {

// LMDeploy's `capability`. Only the two that concern chat formatting are supported;
// CodeLlama's 'infilling' and 'python' are not.
enum class ChatCapability {
  kChat,        // an instruction-tuned model: chat requests are rendered
  kCompletion,  // a base model: chat requests are refused, plain prompts pass as they are
};

// The name used in YAML for `capability`: "chat" or "completion".
std::string_view ChatCapabilityName(ChatCapability capability);

struct NamedChatTemplate {
  std::string name;    // for logs and errors
  std::string bos;     // written first on a sequence's first turn (see the file comment)
  std::string system;  // prefix of a system message (and of meta_instruction)
  // The default system prompt, written on a sequence's first turn when the messages do
  // not begin with a system message. nullopt (YAML null) means none; "" means an empty
  // system message ({system}{eosys}), as LMDeploy distinguishes None from ''.
  std::optional<std::string> meta_instruction;
  std::string eosys;      // suffix of a system message
  std::string user;       // prefix of a user message
  std::string eoh;        // suffix of a user message ("end of human")
  std::string assistant;  // prefix of an assistant message
  std::string eoa;        // suffix of an assistant message: the model's end-of-turn text
  // Written after eoa, between an assistant message and the next message. On a later
  // turn of a session it is written first, since the model's own turn ended at eoa.
  std::string separator;
  // Prefix and suffix of a tool message. The role "tool" is accepted only when one of
  // them is set.
  std::string tool;
  std::string eotool;
  // Opens the model's reply under add_generation_prompt; nullopt means `assistant`.
  std::optional<std::string> generation_prompt;
  // Text that ends generation (ChatFormatter turns single tokens into stop token ids).
  std::vector<std::string> stop_words;
  ChatCapability capability = ChatCapability::kChat;
};

struct NamedRenderOptions {
  bool add_generation_prompt = true;
  // LMDeploy's sequence_start: this is the first turn of a sequence, so `bos` and the
  // default system prompt are written. When false, the messages continue a session whose
  // last turn ended with the model's eoa, so the text begins with `separator`.
  bool first_turn = true;
};

// Renders `messages` (roles "system", "user", "assistant", and "tool" when the template
// defines it) to prompt text. A message's `extra` may override role and content with
// strings; other members of `extra` are not rendered.
// Errors: InvalidArgument naming messages[i].role for another role (listing the allowed
// ones), or messages[i].content when `extra` sets a content that is not a string;
// FailedPrecondition when the template's capability is not kChat.
absl::StatusOr<std::string> RenderNamedChatTemplate(const NamedChatTemplate& chat_template,
                                                    const std::vector<ChatMessage>& messages,
                                                    const NamedRenderOptions& options);

}  // namespace loom
