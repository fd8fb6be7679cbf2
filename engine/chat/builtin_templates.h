// The named chat templates loom knows by name, for `chat_template: {base: NAME}` (or
// `chat_template: NAME`) in a model's YAML. Their strings are those of LMDeploy's
// lmdeploy/model.py classes of the same name (checked against its source), plus the BOS
// text that LMDeploy leaves to the tokenizer (see named_template.h):
//
//   llama3     Llama 3 / 3.1 Instruct (LMDeploy `llama3`): header tokens, <|eot_id|>;
//              no default system prompt; stops on <|eot_id|> and <|end_of_text|>.
//   chatml     the <|im_start|>role\n...<|im_end|>\n layout of Qwen2/2.5/3 (and Yi) with
//              no default system prompt, so it renders as Qwen3's own template does for
//              plain text conversations; stops on <|im_end|>.
//   qwen       LMDeploy `qwen`: chatml with "You are a helpful assistant." as default
//              system prompt.
//   llama2     Llama 2 Chat (LMDeploy `llama2`): [INST] <<SYS>> ... [/INST], Meta's
//              default system prompt, </s><s>[INST] between turns.
//   internlm2  InternLM2 Chat (LMDeploy `internlm2`): chatml with InternLM's default system
//              prompt, BOS <s>; stops on <|im_end|> and <|action_end|>.
//   vicuna     Vicuna v1.1 (LMDeploy `vicuna`): "USER: ... ASSISTANT:", BOS <s>.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/named_template.h"

namespace loom {

// The built-in template called `name` (exact, case-sensitive), or nullopt.
std::optional<NamedChatTemplate> FindBuiltinChatTemplate(std::string_view name);

// The names of the built-in templates, in the order above.
const std::vector<std::string>& BuiltinChatTemplateNames();

}  // namespace loom
