// What a model's YAML says about its chat template (the `chat_template` key), which
// ChatFormatter puts before the template of the model's Hugging Face directory.
#pragma once

#include <string>
#include <variant>

#include "engine/chat/named_template.h"

namespace loom {

// The source of a Jinja chat template in transformers' dialect (see
// engine/text/jinja/chat_template.h), given in the YAML instead of the model's own.
struct JinjaChatTemplateSource {
  std::string source;
};

// std::monostate: the YAML sets no chat template; the model's own (if any) is used.
using ChatTemplateOverride =
    std::variant<std::monostate, JinjaChatTemplateSource, NamedChatTemplate>;

}  // namespace loom
