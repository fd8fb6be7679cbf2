// The model YAML's chat_template: the three forms, base overrides, and the strict
// reader's errors with their file:line:column.
#include "engine/chat/chat_template_yaml.h"

#include <string>
#include <variant>

#include "engine/chat/builtin_templates.h"
#include "engine/chat/yaml_fields.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace loom {
namespace {

using ::testing::HasSubstr;

constexpr char kFile[] = "models/m.yaml";

absl::StatusOr<NamedChatTemplate> Parse(const std::string& yaml) {
  return ParseNamedChatTemplate(YAML::Load(yaml)["chat_template"], kFile);
}

std::string ParseError(const std::string& yaml) {
  absl::StatusOr<NamedChatTemplate> t = Parse(yaml);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << yaml;
  return std::string(t.status().message());
}

TEST(ChatTemplateYamlTest, DefinesATemplateFieldByField) {
  absl::StatusOr<NamedChatTemplate> t = Parse(R"(
chat_template:
  name: my-template
  bos: "<s>"
  system: "<|im_start|>system\n"
  meta_instruction: You are helpful.
  eosys: "<|im_end|>\n"
  user: "<|im_start|>user\n"
  eoh: "<|im_end|>\n"
  assistant: "<|im_start|>assistant\n"
  eoa: "<|im_end|>"
  separator: "\n"
  tool: "<|im_start|>tool\n"
  eotool: "<|im_end|>\n"
  generation_prompt: "<|im_start|>assistant\n<think>\n"
  stop_words: ["<|im_end|>", "Observation:"]
  capability: chat
)");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name, "my-template");
  EXPECT_EQ(t->bos, "<s>");
  EXPECT_EQ(t->system, "<|im_start|>system\n");
  EXPECT_EQ(t->meta_instruction, "You are helpful.");
  EXPECT_EQ(t->eosys, "<|im_end|>\n");
  EXPECT_EQ(t->user, "<|im_start|>user\n");
  EXPECT_EQ(t->eoh, "<|im_end|>\n");
  EXPECT_EQ(t->assistant, "<|im_start|>assistant\n");
  EXPECT_EQ(t->eoa, "<|im_end|>");
  EXPECT_EQ(t->separator, "\n");
  EXPECT_EQ(t->tool, "<|im_start|>tool\n");
  EXPECT_EQ(t->eotool, "<|im_end|>\n");
  EXPECT_EQ(t->generation_prompt, "<|im_start|>assistant\n<think>\n");
  EXPECT_EQ(t->stop_words, (std::vector<std::string>{"<|im_end|>", "Observation:"}));
  EXPECT_EQ(t->capability, ChatCapability::kChat);
}

TEST(ChatTemplateYamlTest, UnsetFieldsOfANewTemplateAreEmpty) {
  absl::StatusOr<NamedChatTemplate> t = Parse("chat_template: {name: plain, user: 'Q: '}");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->user, "Q: ");
  EXPECT_EQ(t->assistant, "");
  EXPECT_EQ(t->meta_instruction, std::nullopt);
  EXPECT_TRUE(t->stop_words.empty());
}

TEST(ChatTemplateYamlTest, BaseStartsFromABuiltinAndKeysOverrideIt) {
  // `base` comes last here: it still applies first.
  absl::StatusOr<NamedChatTemplate> t = Parse(R"(
chat_template:
  meta_instruction: Be brief.
  stop_words: ["<|eot_id|>"]
  base: llama3
)");
  ASSERT_TRUE(t.ok()) << t.status();
  NamedChatTemplate expected = *FindBuiltinChatTemplate("llama3");
  expected.meta_instruction = "Be brief.";
  expected.stop_words = {"<|eot_id|>"};
  EXPECT_EQ(t->name, "llama3");
  EXPECT_EQ(t->bos, expected.bos);
  EXPECT_EQ(t->user, expected.user);
  EXPECT_EQ(t->assistant, expected.assistant);
  EXPECT_EQ(t->eoa, expected.eoa);
  EXPECT_EQ(t->meta_instruction, expected.meta_instruction);
  EXPECT_EQ(t->stop_words, expected.stop_words);

  t = Parse("chat_template: {base: qwen, name: my-qwen, meta_instruction: null}");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name, "my-qwen");
  EXPECT_EQ(t->meta_instruction, std::nullopt);  // null removes the base's system prompt
  EXPECT_EQ(t->eoa, "<|im_end|>");
}

TEST(ChatTemplateYamlTest, UnknownKeySuggestsTheNearestWithLineAndColumn) {
  EXPECT_EQ(ParseError("chat_template:\n  name: t\n  sytem: x\n"),
            "models/m.yaml:3:3: unknown key 'sytem' in chat_template; did you mean 'system'?");
  EXPECT_EQ(ParseError("chat_template:\n  base: llama3\n  stop_word: [x]\n"),
            "models/m.yaml:3:3: unknown key 'stop_word' in chat_template; did you mean "
            "'stop_words'?");
  EXPECT_EQ(ParseError("chat_template: {name: t, asistant: x}"),
            "models/m.yaml:1:26: unknown key 'asistant' in chat_template; did you mean "
            "'assistant'?");
}

TEST(ChatTemplateYamlTest, UnknownKeyFarFromAllListsTheValidKeys) {
  EXPECT_THAT(ParseError("chat_template:\n  name: t\n  temperature: 0.5\n"),
              ::testing::StartsWith("models/m.yaml:3:3: unknown key 'temperature' in "
                                    "chat_template; valid keys: name, base, bos, system,"));
}

TEST(ChatTemplateYamlTest, WrongTypesNameTheKeyAndWhereTheValueIs) {
  EXPECT_EQ(ParseError("chat_template:\n  name: t\n  stop_words: \"<|im_end|>\"\n"),
            "models/m.yaml:3:15: chat_template.stop_words must be a list of strings, not a "
            "string");
  EXPECT_EQ(ParseError("chat_template:\n  name: t\n  system: [a, b]\n"),
            "models/m.yaml:3:11: chat_template.system must be a string, not a list");
  EXPECT_EQ(ParseError("chat_template:\n  name: t\n  user: {a: b}\n"),
            "models/m.yaml:3:9: chat_template.user must be a string, not a mapping");
  EXPECT_EQ(ParseError("chat_template:\n  name: t\n  stop_words:\n    - x\n    - {a: b}\n"),
            "models/m.yaml:5:7: chat_template.stop_words[1] must be a non-empty string, not a "
            "mapping");
  EXPECT_EQ(ParseError("chat_template: {name: t, stop_words: ['']}"),
            "models/m.yaml:1:39: chat_template.stop_words[0] must be a non-empty string, not "
            "empty");
  EXPECT_EQ(ParseError("chat_template:\n  name: t\n  capability: infilling\n"),
            "models/m.yaml:3:15: chat_template.capability is 'infilling'; expected 'chat' or "
            "'completion'");
  EXPECT_THAT(ParseError("chat_template:\n  name: t\n  eoa:\n"),
              HasSubstr("chat_template.eoa must be a string, not null"));
}

TEST(ChatTemplateYamlTest, CapabilityCompletion) {
  absl::StatusOr<NamedChatTemplate> t =
      Parse("chat_template: {base: llama3, capability: completion}");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->capability, ChatCapability::kCompletion);
}

TEST(ChatTemplateYamlTest, UnknownBaseSuggestsABuiltin) {
  EXPECT_EQ(ParseError("chat_template:\n  base: lama3\n"),
            "models/m.yaml:2:9: unknown base 'lama3' in chat_template; did you mean 'llama3'? "
            "(built-in templates: llama3, chatml, qwen, llama2, internlm2, vicuna)");
}

TEST(ChatTemplateYamlTest, NeedsANameOrABase) {
  EXPECT_THAT(ParseError("chat_template:\n  user: 'Q: '\n"),
              ::testing::StartsWith("models/m.yaml:2:3: chat_template needs 'name' (to define a "
                                    "template) or 'base'"));
  EXPECT_EQ(ParseError("chat_template: {name: ''}"),
            "models/m.yaml:1:16: chat_template.name must not be empty");
}

TEST(ChatTemplateYamlTest, DuplicateKeysAreErrors) {
  EXPECT_EQ(ParseError("chat_template:\n  name: t\n  user: a\n  user: b\n"),
            "models/m.yaml:4:3: duplicate key 'user' in chat_template");
}

TEST(ChatTemplateYamlTest, NotAMapping) {
  EXPECT_EQ(ParseError("chat_template:\n  - name\n"),
            "models/m.yaml:2:3: chat_template must be a mapping, not a list");
  EXPECT_EQ(ParseError("other: 1\n"),
            "models/m.yaml: chat_template must be a mapping, not nothing");
}

TEST(ChatTemplateOverrideYamlTest, TheThreeFormsAndNothing) {
  auto parse = [](const std::string& yaml) {
    return ParseChatTemplateOverride(YAML::Load(yaml)["chat_template"], kFile);
  };
  absl::StatusOr<ChatTemplateOverride> o = parse("model: x\n");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(std::holds_alternative<std::monostate>(*o));
  o = parse("chat_template: null\n");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(std::holds_alternative<std::monostate>(*o));

  o = parse("chat_template: chatml\n");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_TRUE(std::holds_alternative<NamedChatTemplate>(*o));
  EXPECT_EQ(std::get<NamedChatTemplate>(*o).name, "chatml");

  o = parse("chat_template: \"{% for m in messages %}{{ m.content }}{% endfor %}\"\n");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_TRUE(std::holds_alternative<JinjaChatTemplateSource>(*o));
  EXPECT_EQ(std::get<JinjaChatTemplateSource>(*o).source,
            "{% for m in messages %}{{ m.content }}{% endfor %}");

  o = parse("chat_template:\n  base: vicuna\n  name: v\n");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_TRUE(std::holds_alternative<NamedChatTemplate>(*o));
  EXPECT_EQ(std::get<NamedChatTemplate>(*o).name, "v");

  o = parse("chat_template: lama3\n");
  EXPECT_EQ(o.status().message(),
            "models/m.yaml:1:16: chat_template 'lama3' is neither a built-in template name nor a "
            "Jinja template; did you mean 'llama3'? (built-in templates: llama3, chatml, qwen, "
            "llama2, internlm2, vicuna)");
  o = parse("chat_template: [a]\n");
  EXPECT_THAT(o.status().message(),
              HasSubstr("chat_template must be a template name, a Jinja template or a mapping, "
                        "not a list"));
  o = parse("chat_template:\n  name: t\n  sytem: x\n");
  EXPECT_THAT(o.status().message(), HasSubstr("did you mean 'system'?"));
}

TEST(YamlFieldsTest, EditDistanceAndClosestName) {
  EXPECT_EQ(yaml::EditDistance("", ""), 0u);
  EXPECT_EQ(yaml::EditDistance("sytem", "system"), 1u);
  EXPECT_EQ(yaml::EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(yaml::EditDistance("abc", ""), 3u);
  const std::string_view names[] = {"eoa", "eoh", "eosys"};
  EXPECT_EQ(yaml::ClosestName("eos", names), "eoa");  // the first of equally near ones
  EXPECT_EQ(yaml::ClosestName("eosy", names), "eosys");
  EXPECT_EQ(yaml::ClosestName("completely-different", names), std::nullopt);
}

}  // namespace
}  // namespace loom
