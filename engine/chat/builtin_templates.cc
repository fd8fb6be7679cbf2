#include "engine/chat/builtin_templates.h"

namespace loom {
namespace {

constexpr char kLlama2SystemPrompt[] =
    "You are a helpful, respectful and honest assistant. Always answer as helpfully as "
    "possible, while being safe. Your answers should not include any harmful, unethical, "
    "racist, sexist, toxic, dangerous, or illegal content. Please ensure that your responses "
    "are socially unbiased and positive in nature.\n\nIf a question does not make any sense, "
    "or is not factually coherent, explain why instead of answering something not correct. "
    "If you don't know the answer to a question, please don't share false information.";

constexpr char kInternLMSystemPrompt[] =
    "You are an AI assistant whose name is InternLM (书生·浦语).\n"
    "- InternLM (书生·浦语) is a conversational language model that is developed by Shanghai "
    "AI Laboratory (上海人工智能实验室). It is designed to be helpful, honest, and harmless.\n"
    "- InternLM (书生·浦语) can understand and communicate fluently in the language chosen by "
    "the user such as English and 中文.\n";

constexpr char kVicunaSystemPrompt[] =
    "A chat between a curious user and an artificial intelligence assistant. The assistant "
    "gives helpful, detailed, and polite answers to the user's questions.";

NamedChatTemplate Llama3() {
  return {
      .name = "llama3",
      .bos = "<|begin_of_text|>",
      .system = "<|start_header_id|>system<|end_header_id|>\n\n",
      .meta_instruction = std::nullopt,
      .eosys = "<|eot_id|>",
      .user = "<|start_header_id|>user<|end_header_id|>\n\n",
      .eoh = "<|eot_id|>",
      .assistant = "<|start_header_id|>assistant<|end_header_id|>\n\n",
      .eoa = "<|eot_id|>",
      .stop_words = {"<|eot_id|>", "<|end_of_text|>"},
  };
}

NamedChatTemplate ChatML() {
  return {
      .name = "chatml",
      .system = "<|im_start|>system\n",
      .meta_instruction = std::nullopt,
      .eosys = "<|im_end|>\n",
      .user = "<|im_start|>user\n",
      .eoh = "<|im_end|>\n",
      .assistant = "<|im_start|>assistant\n",
      .eoa = "<|im_end|>",
      .separator = "\n",
      .stop_words = {"<|im_end|>"},
  };
}

NamedChatTemplate Qwen() {
  NamedChatTemplate t = ChatML();
  t.name = "qwen";
  t.meta_instruction = "You are a helpful assistant.";
  return t;
}

NamedChatTemplate Llama2() {
  // No user prefix: "[INST] " comes from `system` on the first turn and from the
  // separator "<s>[INST] " after each reply.
  return {
      .name = "llama2",
      .bos = "<s>",
      .system = "[INST] <<SYS>>\n",
      .meta_instruction = kLlama2SystemPrompt,
      .eosys = "\n<</SYS>>\n\n",
      .assistant = " [/INST] ",
      .eoa = "</s>",
      .separator = "<s>[INST] ",
  };
}

NamedChatTemplate InternLM2() {
  return {
      .name = "internlm2",
      .bos = "<s>",
      .system = "<|im_start|>system\n",
      .meta_instruction = kInternLMSystemPrompt,
      .eosys = "<|im_end|>\n",
      .user = "<|im_start|>user\n",
      .eoh = "<|im_end|>\n",
      .assistant = "<|im_start|>assistant\n",
      .eoa = "<|im_end|>",
      .separator = "\n",
      .stop_words = {"<|im_end|>", "<|action_end|>"},
  };
}

NamedChatTemplate Vicuna() {
  return {
      .name = "vicuna",
      .bos = "<s>",
      .meta_instruction = kVicunaSystemPrompt,
      .eosys = " ",
      .user = "USER: ",
      .eoh = " ",
      .assistant = "ASSISTANT: ",
      .eoa = "</s>",
      .generation_prompt = "ASSISTANT:",
      .stop_words = {"</s>"},
  };
}

}  // namespace

std::optional<NamedChatTemplate> FindBuiltinChatTemplate(std::string_view name) {
  if (name == "llama3") return Llama3();
  if (name == "chatml") return ChatML();
  if (name == "qwen") return Qwen();
  if (name == "llama2") return Llama2();
  if (name == "internlm2") return InternLM2();
  if (name == "vicuna") return Vicuna();
  return std::nullopt;
}

const std::vector<std::string>& BuiltinChatTemplateNames() {
  static const std::vector<std::string>* const kNames =
      new std::vector<std::string>{"llama3", "chatml", "qwen", "llama2", "internlm2", "vicuna"};
  return *kNames;
}

}  // namespace loom
