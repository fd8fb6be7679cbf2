// Reading `chat_template` from a model's YAML. Three forms:
//
//   chat_template: llama3                 # a built-in template (builtin_templates.h)
//   chat_template: "{% for m in messages %}..."   # a Jinja template, transformers' dialect
//   chat_template:                        # a named template (named_template.h)
//     base: llama3                        # start from a built-in (optional), or
//     name: my-template                   # name a new one (one of the two is required)
//     system: "<|im_start|>system\n"      # then any fields, overriding the base's:
//     meta_instruction: "You are ..."     #   bos, system, meta_instruction, eosys, user,
//     stop_words: ["<|im_end|>"]          #   eoh, assistant, eoa, separator, tool, eotool,
//                                         #   generation_prompt, stop_words, capability
//
// The reader is strict, since a misspelt key would otherwise silently change prompts:
// unknown keys, duplicate keys and values of the wrong type are errors that read
// "FILE:LINE:COLUMN: message" (1-based) and name the key, with the nearest valid key or
// name suggested for typos. Field values are YAML strings (unquoted scalars are taken as
// their text); `meta_instruction` and `generation_prompt` may be null (none / the
// default), `stop_words` a list of non-empty strings or null, `capability` "chat" or
// "completion".
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "engine/chat/chat_template_override.h"
#include "engine/chat/named_template.h"

namespace YAML {
class Node;
}  // namespace YAML

namespace loom {

// Parses the mapping form. `node` is the value of the `chat_template` key; `file` names
// the YAML file in errors. Errors: InvalidArgument as described above, and for a node
// that is not a mapping, an unknown `base`, or neither `name` nor `base`.
absl::StatusOr<NamedChatTemplate> ParseNamedChatTemplate(const YAML::Node& node,
                                                         std::string_view file);

// Parses any of the three forms; null or an undefined node (no `chat_template` key) is
// std::monostate. A string is a built-in's name when it is one, else a Jinja template when
// it contains "{{" or "{%" (the Jinja source is parsed later, by ChatFormatter::Create).
// Errors: InvalidArgument for a string that is neither (suggesting the nearest built-in
// name), a list, and ParseNamedChatTemplate's errors.
absl::StatusOr<ChatTemplateOverride> ParseChatTemplateOverride(const YAML::Node& node,
                                                               std::string_view file);

}  // namespace loom
