// Named (LMDeploy-style) chat templates: the built-ins against the real models' Jinja
// templates as transformers rendered them (tests/goldens/chat_templates.json), the
// layout of each piece, first and later turns, and the roles they accept.
#include "engine/chat/named_template.h"

#include <string>
#include <vector>

#include "engine/chat/builtin_templates.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/chat/chat_test_util.h"

namespace loom {
namespace {

using chat_test::Assistant;
using chat_test::System;
using chat_test::User;
using ::testing::HasSubstr;
using json = nlohmann::ordered_json;

NamedChatTemplate Builtin(const std::string& name) {
  std::optional<NamedChatTemplate> t = FindBuiltinChatTemplate(name);
  EXPECT_TRUE(t.has_value()) << name;
  return t.value_or(NamedChatTemplate{});
}

std::string Render(const NamedChatTemplate& t, const std::vector<ChatMessage>& messages,
                   bool add_generation_prompt = true, bool first_turn = true) {
  absl::StatusOr<std::string> text = RenderNamedChatTemplate(
      t, messages, {.add_generation_prompt = add_generation_prompt, .first_turn = first_turn});
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

// Llama 3's Jinja template trims every content and always opens the assistant's reply;
// the named template (as LMDeploy's) does neither, so only the cases where that makes no
// difference are compared.
TEST(BuiltinTemplateTest, Llama3MatchesTheRealLlama3TemplateGoldens) {
  const json goldens = chat_test::ReadGoldens("chat_templates.json");
  const NamedChatTemplate llama3 = Builtin("llama3");
  int compared = 0;
  for (const json& c : goldens["llama3"]) {
    std::vector<ChatMessage> messages;
    if (!chat_test::PlainMessages(c["messages"], &messages)) continue;
    if (!c["add_generation_prompt"].get<bool>()) continue;
    bool trimmed = true;
    for (const ChatMessage& m : messages) {
      trimmed &= m.content.find_first_of(" \n") != 0 &&
                 m.content.find_last_of(" \n") != m.content.size() - 1;
    }
    if (!trimmed) continue;
    SCOPED_TRACE(c["messages"].dump());
    EXPECT_EQ(Render(llama3, messages), c["text"].get<std::string>());
    ++compared;
  }
  EXPECT_GE(compared, 2);
}

TEST(BuiltinTemplateTest, ChatMLMatchesQwen3TemplateGoldens) {
  const json goldens = chat_test::ReadGoldens("chat_templates.json");
  const NamedChatTemplate chatml = Builtin("chatml");
  int compared = 0;
  for (const json& c : goldens["qwen3"]) {
    std::vector<ChatMessage> messages;
    if (c.contains("error") || !chat_test::PlainMessages(c["messages"], &messages)) continue;
    SCOPED_TRACE(c.dump());
    EXPECT_EQ(Render(chatml, messages, c["add_generation_prompt"].get<bool>()),
              c["text"].get<std::string>());
    ++compared;
  }
  EXPECT_GE(compared, 6);  // three conversations, with and without the generation prompt
}

TEST(BuiltinTemplateTest, NamesAreFoundAndUnknownNamesAreNot) {
  for (const std::string& name : BuiltinChatTemplateNames()) {
    std::optional<NamedChatTemplate> t = FindBuiltinChatTemplate(name);
    ASSERT_TRUE(t.has_value()) << name;
    EXPECT_EQ(t->name, name);
    EXPECT_EQ(t->capability, ChatCapability::kChat);
  }
  EXPECT_FALSE(FindBuiltinChatTemplate("Llama3").has_value());
  EXPECT_FALSE(FindBuiltinChatTemplate("").has_value());
}

TEST(BuiltinTemplateTest, Llama3StopsOnEndOfTurnAndEndOfText) {
  EXPECT_EQ(Builtin("llama3").stop_words,
            (std::vector<std::string>{"<|eot_id|>", "<|end_of_text|>"}));
  EXPECT_EQ(Builtin("internlm2").stop_words,
            (std::vector<std::string>{"<|im_end|>", "<|action_end|>"}));
}

TEST(BuiltinTemplateTest, QwenWritesItsDefaultSystemPromptUnlessGivenOne) {
  const NamedChatTemplate qwen = Builtin("qwen");
  EXPECT_EQ(Render(qwen, {User("hi")}),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(Render(qwen, {System("S"), User("hi")}),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(BuiltinTemplateTest, Llama2) {
  const NamedChatTemplate llama2 = Builtin("llama2");
  EXPECT_EQ(Render(llama2, {System("S"), User("a"), Assistant("b"), User("c")}),
            "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\na [/INST] b</s><s>[INST] c [/INST] ");
  const std::string text = Render(llama2, {User("a")});
  EXPECT_THAT(text, ::testing::StartsWith("<s>[INST] <<SYS>>\nYou are a helpful, respectful"));
  EXPECT_THAT(text, ::testing::EndsWith("don't share false information.\n<</SYS>>\n\na [/INST] "));
}

TEST(BuiltinTemplateTest, InternLM2) {
  const std::string text = Render(Builtin("internlm2"), {User("hi")});
  EXPECT_THAT(text, ::testing::StartsWith(
                        "<s><|im_start|>system\nYou are an AI assistant whose name is InternLM"));
  EXPECT_THAT(text, ::testing::EndsWith("中文.\n<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
                                        "<|im_start|>assistant\n"));
}

TEST(BuiltinTemplateTest, VicunaOpensTheReplyWithoutATrailingSpace) {
  const NamedChatTemplate vicuna = Builtin("vicuna");
  EXPECT_EQ(Render(vicuna, {User("a"), Assistant("b"), User("c")}),
            "<s>A chat between a curious user and an artificial intelligence assistant. The "
            "assistant gives helpful, detailed, and polite answers to the user's questions. "
            "USER: a ASSISTANT: b</s>USER: c ASSISTANT:");
}

TEST(NamedTemplateTest, FirstTurnWritesBosAndTheDefaultSystemPromptOnly) {
  NamedChatTemplate t = Builtin("chatml");
  t.bos = "<BOS>";
  t.meta_instruction = "M";
  EXPECT_EQ(Render(t, {User("a")}, true, /*first_turn=*/true),
            "<BOS><|im_start|>system\nM<|im_end|>\n<|im_start|>user\na<|im_end|>\n"
            "<|im_start|>assistant\n");
  // A later turn follows the model's <|im_end|>: the separator, then the messages.
  EXPECT_EQ(Render(t, {User("b")}, true, /*first_turn=*/false),
            "\n<|im_start|>user\nb<|im_end|>\n<|im_start|>assistant\n");
}

TEST(NamedTemplateTest, EmptyMetaInstructionIsAnEmptySystemMessageButNoneIsNothing) {
  NamedChatTemplate t = Builtin("chatml");
  t.meta_instruction = "";
  EXPECT_EQ(Render(t, {User("a")}, false),
            "<|im_start|>system\n<|im_end|>\n<|im_start|>user\na<|im_end|>\n");
  t.meta_instruction = std::nullopt;
  EXPECT_EQ(Render(t, {User("a")}, false), "<|im_start|>user\na<|im_end|>\n");
}

TEST(NamedTemplateTest, AFinalAssistantMessageIsClosed) {
  EXPECT_EQ(Render(Builtin("chatml"), {User("a"), Assistant("b")}, false),
            "<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\nb<|im_end|>\n");
}

TEST(NamedTemplateTest, ContinuationAppendsToTheFirstTurn) {
  for (const std::string& name : BuiltinChatTemplateNames()) {
    SCOPED_TRACE(name);
    const NamedChatTemplate t = Builtin(name);
    // Vicuna opens the reply with "ASSISTANT:", so the model's reply begins with the space
    // that its assistant prefix "ASSISTANT: " has.
    const std::string lead =
        t.generation_prompt ? t.assistant.substr(t.generation_prompt->size()) : "";
    const std::string turn1 = Render(t, {System("S"), User("a")});
    const std::string turn2 = Render(t, {User("c")}, true, /*first_turn=*/false);
    const std::string turn3 = Render(t, {User("e")}, true, /*first_turn=*/false);
    EXPECT_EQ(
        turn1 + lead + "b" + t.eoa + turn2 + lead + "d" + t.eoa + turn3,
        Render(t, {System("S"), User("a"), Assistant("b"), User("c"), Assistant("d"), User("e")}));
  }
}

TEST(NamedTemplateTest, RejectsUnknownRolesNamingTheMessage) {
  absl::StatusOr<std::string> text = RenderNamedChatTemplate(
      Builtin("llama3"), {User("a"), ChatMessage{.role = "tool", .content = "x"}}, {});
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(text.status().message(),
            "messages[1].role is 'tool'; chat template 'llama3' accepts system, user, assistant");

  text = RenderNamedChatTemplate(Builtin("chatml"), {ChatMessage{.role = "", .content = "x"}}, {});
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(text.status().message(), HasSubstr("messages[0].role is ''"));
}

TEST(NamedTemplateTest, ToolRoleWhenTheTemplateDefinesIt) {
  NamedChatTemplate t = Builtin("chatml");
  t.tool = "<|im_start|>tool\n";
  t.eotool = "<|im_end|>\n";
  EXPECT_EQ(Render(t, {ChatMessage{.role = "tool", .content = "42"}}, false),
            "<|im_start|>tool\n42<|im_end|>\n");
  absl::StatusOr<std::string> text =
      RenderNamedChatTemplate(t, {ChatMessage{.role = "function", .content = "x"}}, {});
  EXPECT_THAT(text.status().message(), HasSubstr("accepts system, user, assistant, tool"));
}

TEST(NamedTemplateTest, ExtraOverridesRoleAndContentWithText) {
  const NamedChatTemplate t = Builtin("chatml");
  ChatMessage message{.role = "user", .content = "a", .extra = {{"content", "b"}}};
  EXPECT_EQ(Render(t, {message}, false), "<|im_start|>user\nb<|im_end|>\n");
  message.extra = {{"content", nullptr}};
  absl::StatusOr<std::string> text = RenderNamedChatTemplate(t, {message}, {});
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(text.status().message(), HasSubstr("messages[0].content must be a string"));
}

TEST(NamedTemplateTest, CompletionCapabilityRefusesChat) {
  NamedChatTemplate t = Builtin("chatml");
  t.capability = ChatCapability::kCompletion;
  absl::StatusOr<std::string> text = RenderNamedChatTemplate(t, {User("a")}, {});
  EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(text.status().message(), HasSubstr("capability 'completion'"));
}

}  // namespace
}  // namespace loom
