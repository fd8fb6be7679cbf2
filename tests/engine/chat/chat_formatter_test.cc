// ChatFormatter with the real tokenizers: which template wins, the error without one,
// stop words as token ids, and later turns of a session (the continuation appended to
// the first turn's rendering, the reply and its end-of-turn token is the rendering of
// the whole conversation) for Jinja and named templates.
#include "engine/chat/chat_formatter.h"

#include <filesystem>
#include <memory>
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
using chat_test::TokenizerDir;
using chat_test::User;
using ::testing::HasSubstr;
using json = nlohmann::ordered_json;

std::unique_ptr<Tokenizer> LoadTokenizer(const std::string& name) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(TokenizerDir(name));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status() << " (run scripts/setup.sh)";
  return tokenizer.ok() ? *std::move(tokenizer) : nullptr;
}

std::optional<ChatFormatter> MakeFormatter(const std::string& model, const Tokenizer& tokenizer,
                                           const ChatTemplateOverride& yaml_template = {}) {
  absl::StatusOr<ChatFormatter> formatter =
      ChatFormatter::Create(TokenizerDir(model), tokenizer, yaml_template);
  EXPECT_TRUE(formatter.ok()) << formatter.status();
  if (!formatter.ok()) return std::nullopt;
  return *std::move(formatter);
}

std::string Render(const ChatFormatter& formatter, const std::vector<ChatMessage>& messages,
                   bool first_turn = true, bool add_generation_prompt = true) {
  absl::StatusOr<std::string> text = formatter.Render(
      messages, {.add_generation_prompt = add_generation_prompt, .first_turn = first_turn});
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

NamedChatTemplate Builtin(const std::string& name) { return *FindBuiltinChatTemplate(name); }

TEST(ChatFormatterTest, ModelWithoutTemplateIsCreatedButCannotRenderChat) {
  // Llama 2's tokenizer_config.json has no chat_template.
  std::unique_ptr<Tokenizer> tokenizer = LoadTokenizer("llama2");
  ASSERT_NE(tokenizer, nullptr);
  std::optional<ChatFormatter> formatter = MakeFormatter("llama2", *tokenizer);
  ASSERT_TRUE(formatter.has_value());
  EXPECT_EQ(formatter->source(), ChatFormatter::Source::kNone);
  EXPECT_EQ(formatter->Describe(), "no chat template");
  EXPECT_TRUE(formatter->stop_token_ids().empty());
  absl::StatusOr<std::string> text = formatter->Render({User("hi")}, {});
  EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(text.status().message()),
              ::testing::StartsWith("the model has no chat template; set chat_template in its "
                                    "YAML"));
}

// The bundled model's tokenizer_config.json carries a Llama 3-style chat_template.
TEST(ChatFormatterTest, BundledTinyModelUsesItsOwnTemplate) {
  const std::filesystem::path dir =
      std::filesystem::path(LOOM_SOURCE_DIR) / "models/tiny-shakespeare-llama";
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  absl::StatusOr<ChatFormatter> formatter = ChatFormatter::Create(dir, **tokenizer, {});
  ASSERT_TRUE(formatter.ok()) << formatter.status();
  EXPECT_EQ(formatter->source(), ChatFormatter::Source::kModel);
  EXPECT_EQ(Render(*formatter, {User("hi")}, true, /*add_generation_prompt=*/false),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>");
}

TEST(ChatFormatterTest, PrecedenceYamlOverModelOverNone) {
  std::unique_ptr<Tokenizer> tokenizer = LoadTokenizer("llama3");
  ASSERT_NE(tokenizer, nullptr);
  const std::vector<ChatMessage> messages = {User(" hi ")};

  std::optional<ChatFormatter> model = MakeFormatter("llama3", *tokenizer);
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(model->source(), ChatFormatter::Source::kModel);
  // The real template trims contents.
  EXPECT_EQ(Render(*model, messages),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");

  std::optional<ChatFormatter> jinja =
      MakeFormatter("llama3", *tokenizer,
                    JinjaChatTemplateSource{
                        "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content "
                        "}}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"});
  ASSERT_TRUE(jinja.has_value());
  EXPECT_EQ(jinja->source(), ChatFormatter::Source::kYamlJinja);
  EXPECT_EQ(Render(*jinja, messages), "<|begin_of_text|>[user] hi [assistant]");

  std::optional<ChatFormatter> named = MakeFormatter("llama3", *tokenizer, Builtin("chatml"));
  ASSERT_TRUE(named.has_value());
  EXPECT_EQ(named->source(), ChatFormatter::Source::kYamlNamed);
  EXPECT_EQ(named->Describe(), "named chat template 'chatml' from the model YAML");
  EXPECT_EQ(Render(*named, messages), "<|im_start|>user\n hi <|im_end|>\n<|im_start|>assistant\n");

  // A model without a template of its own gets the YAML's.
  std::unique_ptr<Tokenizer> llama2_tokenizer = LoadTokenizer("llama2");
  ASSERT_NE(llama2_tokenizer, nullptr);
  std::optional<ChatFormatter> llama2 =
      MakeFormatter("llama2", *llama2_tokenizer, Builtin("llama2"));
  ASSERT_TRUE(llama2.has_value());
  EXPECT_EQ(Render(*llama2, {System("S"), User("a")}),
            "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\na [/INST] ");
}

TEST(ChatFormatterTest, BadYamlJinjaFailsCreate) {
  std::unique_ptr<Tokenizer> tokenizer = LoadTokenizer("llama3");
  ASSERT_NE(tokenizer, nullptr);
  absl::StatusOr<ChatFormatter> formatter = ChatFormatter::Create(
      TokenizerDir("llama3"), *tokenizer, JinjaChatTemplateSource{"{% for m in messages %}"});
  EXPECT_EQ(formatter.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(formatter.status().message()),
              ::testing::StartsWith("model YAML chat_template: "));
}

TEST(ChatFormatterTest, Llama3NamedTemplateStopsOnEotIdAsATokenId) {
  std::unique_ptr<Tokenizer> tokenizer = LoadTokenizer("llama3");
  ASSERT_NE(tokenizer, nullptr);
  std::optional<ChatFormatter> formatter = MakeFormatter("llama3", *tokenizer, Builtin("llama3"));
  ASSERT_TRUE(formatter.has_value());
  ASSERT_EQ(tokenizer->TokenToId("<|eot_id|>"), 128009);
  EXPECT_EQ(formatter->stop_token_ids(), (std::vector<TokenId>{128009, 128001}));
  EXPECT_TRUE(formatter->stop_strings().empty());
  EXPECT_EQ(formatter->end_of_turn(), "<|eot_id|>");
}

TEST(ChatFormatterTest, StopWordsThatAreNotOneTokenAreStopStrings) {
  std::unique_ptr<Tokenizer> tokenizer = LoadTokenizer("llama3");
  ASSERT_NE(tokenizer, nullptr);
  NamedChatTemplate t = Builtin("llama3");
  // "Hello" is one token of the vocabulary; " Hello" is that token's text but not its
  // spelling ("ĠHello"); "Observation:" takes two tokens; <|im_end|> is not Llama 3's.
  t.stop_words = {"<|eot_id|>", "Observation:", "<|im_end|>", "Hello", " Hello", "<|eot_id|>"};
  std::optional<ChatFormatter> formatter = MakeFormatter("llama3", *tokenizer, t);
  ASSERT_TRUE(formatter.has_value());
  EXPECT_EQ(formatter->stop_token_ids(), (std::vector<TokenId>{128009, 9906}));
  EXPECT_EQ(formatter->stop_strings(),
            (std::vector<std::string>{"Observation:", "<|im_end|>", " Hello"}));
}

TEST(ChatFormatterTest, JinjaTemplatesAddNoStopConditions) {
  std::unique_ptr<Tokenizer> tokenizer = LoadTokenizer("qwen3");
  ASSERT_NE(tokenizer, nullptr);
  std::optional<ChatFormatter> formatter = MakeFormatter("qwen3", *tokenizer);
  ASSERT_TRUE(formatter.has_value());
  EXPECT_TRUE(formatter->stop_token_ids().empty());
  EXPECT_TRUE(formatter->stop_strings().empty());
}

// The named llama3 template's text, encoded without special tokens as the formatter
// says, gives the ids transformers recorded for the real template.
TEST(ChatFormatterTest, NamedLlama3TextEncodesToTheGoldenIds) {
  std::unique_ptr<Tokenizer> tokenizer = LoadTokenizer("llama3");
  ASSERT_NE(tokenizer, nullptr);
  std::optional<ChatFormatter> formatter = MakeFormatter("llama3", *tokenizer, Builtin("llama3"));
  ASSERT_TRUE(formatter.has_value());
  EXPECT_FALSE(formatter->add_special_tokens());
  const json goldens = chat_test::ReadGoldens("chat_templates.json");
  const json& golden = goldens["llama3"][0];  // "Hello!", with the generation prompt
  std::vector<ChatMessage> messages;
  ASSERT_TRUE(chat_test::PlainMessages(golden["messages"], &messages));
  absl::StatusOr<std::vector<TokenId>> ids =
      tokenizer->Encode(Render(*formatter, messages), formatter->add_special_tokens());
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, golden["ids"].get<std::vector<TokenId>>());
}

TEST(ChatFormatterTest, InvalidRolesAndNoMessages) {
  std::unique_ptr<Tokenizer> tokenizer = LoadTokenizer("llama3");
  ASSERT_NE(tokenizer, nullptr);
  std::optional<ChatFormatter> formatter = MakeFormatter("llama3", *tokenizer, Builtin("llama3"));
  ASSERT_TRUE(formatter.has_value());
  absl::StatusOr<std::string> text =
      formatter->Render({User("a"), ChatMessage{.role = "developer", .content = "b"}}, {});
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(text.status().message(),
            "messages[1].role is 'developer'; chat template 'llama3' accepts system, user, "
            "assistant");
  text = formatter->Render({}, {});
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
}

// The session property: turn 1's rendering, the model's reply and end-of-turn token, then
// each later turn's continuation, is the rendering of the whole conversation.
void CheckContinuation(const ChatFormatter& formatter, const std::vector<ChatMessage>& first,
                       const std::vector<std::vector<ChatMessage>>& later) {
  ASSERT_FALSE(formatter.end_of_turn().empty());
  std::vector<ChatMessage> conversation = first;
  std::string session = Render(formatter, first);
  for (size_t i = 0; i < later.size(); ++i) {
    const std::string reply = "reply " + std::to_string(i);
    conversation.push_back(Assistant(reply));
    conversation.insert(conversation.end(), later[i].begin(), later[i].end());
    const std::string continuation = Render(formatter, later[i], /*first_turn=*/false);
    session += reply + formatter.end_of_turn() + continuation;
    EXPECT_EQ(session, Render(formatter, conversation)) << "after turn " << i + 2;
  }
}

TEST(ChatFormatterContinuationTest, Llama3Jinja) {
  std::unique_ptr<Tokenizer> tokenizer = LoadTokenizer("llama3");
  ASSERT_NE(tokenizer, nullptr);
  std::optional<ChatFormatter> formatter = MakeFormatter("llama3", *tokenizer);
  ASSERT_TRUE(formatter.has_value());
  EXPECT_EQ(formatter->end_of_turn(), "<|eot_id|>");
  // No BOS again, and the header of the new user turn right after <|eot_id|>.
  EXPECT_EQ(Render(*formatter, {User("b")}, /*first_turn=*/false),
            "<|start_header_id|>user<|end_header_id|>\n\nb<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  CheckContinuation(*formatter, {System("Be brief."), User("a")},
                    {{User("b")}, {System("Now in French."), User("c")}});
}

TEST(ChatFormatterContinuationTest, Qwen3Jinja) {
  std::unique_ptr<Tokenizer> tokenizer = LoadTokenizer("qwen3");
  ASSERT_NE(tokenizer, nullptr);
  std::optional<ChatFormatter> formatter = MakeFormatter("qwen3", *tokenizer);
  ASSERT_TRUE(formatter.has_value());
  EXPECT_EQ(formatter->end_of_turn(), "<|im_end|>");
  // The "\n" the template writes after <|im_end|> belongs to the continuation.
  EXPECT_EQ(Render(*formatter, {User("b")}, /*first_turn=*/false),
            "\n<|im_start|>user\nb<|im_end|>\n<|im_start|>assistant\n");
  CheckContinuation(*formatter, {System("Be brief."), User("a")}, {{User("b")}, {User("c")}});
  CheckContinuation(*formatter, {User("a")}, {{User("b")}});
}

TEST(ChatFormatterContinuationTest, DeepSeekV3JinjaRefusesASystemMessageInALaterTurn) {
  std::unique_ptr<Tokenizer> tokenizer = LoadTokenizer("deepseek_v3");
  ASSERT_NE(tokenizer, nullptr);
  std::optional<ChatFormatter> formatter = MakeFormatter("deepseek_v3", *tokenizer);
  ASSERT_TRUE(formatter.has_value());
  EXPECT_EQ(formatter->end_of_turn(), "<｜end▁of▁sentence｜>");
  CheckContinuation(*formatter, {User("a")}, {{User("b")}});
  // DeepSeek-V3 gathers system messages before the first turn, so one cannot be appended.
  absl::StatusOr<std::string> text =
      formatter->Render({System("S"), User("b")}, {.first_turn = false});
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(text.status().message(), HasSubstr("cannot continue a session"));
}

TEST(ChatFormatterContinuationTest, NamedTemplates) {
  std::unique_ptr<Tokenizer> tokenizer = LoadTokenizer("llama3");
  ASSERT_NE(tokenizer, nullptr);
  for (const char* name : {"llama3", "chatml", "qwen", "llama2", "internlm2"}) {
    SCOPED_TRACE(name);
    std::optional<ChatFormatter> formatter = MakeFormatter("llama3", *tokenizer, Builtin(name));
    ASSERT_TRUE(formatter.has_value());
    EXPECT_EQ(formatter->end_of_turn(), Builtin(name).eoa);
    CheckContinuation(*formatter, {User("a")}, {{User("b")}, {System("S"), User("c")}});
  }
}

}  // namespace
}  // namespace loom
