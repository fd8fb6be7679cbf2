// ChatTemplate against transformers' apply_chat_template: the goldens of real models
// (tests/goldens/chat_templates.json and the chat cases of tokenizers.json), the
// structure of DeepSeek-V3's template, and loading templates from model directories.
#include "engine/text/jinja/chat_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using json = nlohmann::ordered_json;

std::filesystem::path TokenizerDir(const std::string& name) {
  return std::filesystem::path(LOOM_DEPS_DIR) / "tokenizers" / name;
}

json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path << " (run scripts/setup.sh)";
  std::stringstream contents;
  contents << in.rdbuf();
  return json::parse(contents.str(), nullptr, /*allow_exceptions=*/false);
}

// The model's template and special tokens, as transformers would load them.
struct Model {
  ChatTemplate chat_template;
  ChatSpecialTokens tokens;
};

std::optional<Model> LoadModel(const std::string& name) {
  absl::StatusOr<ChatTemplate> loaded = ChatTemplate::LoadFromModelDir(TokenizerDir(name));
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  absl::StatusOr<ChatSpecialTokens> tokens = ReadChatSpecialTokens(TokenizerDir(name));
  EXPECT_TRUE(tokens.ok()) << tokens.status();
  if (!loaded.ok() || !tokens.ok()) return std::nullopt;
  return Model{*std::move(loaded), *std::move(tokens)};
}

// Renders one message set (a JSON array) the way apply_chat_template(tokenize=False) does.
absl::StatusOr<std::string> RenderMessages(const Model& model, const json& messages,
                                           bool add_generation_prompt,
                                           json extra_context = nullptr) {
  ChatTemplate::Options options;
  options.add_generation_prompt = add_generation_prompt;
  options.special_tokens = model.tokens;
  options.extra_context = std::move(extra_context);
  return model.chat_template.RenderJson(messages, options);
}

// Every golden case of `name` in `goldens_file` (a list under goldens[name] or
// goldens[name]["chat"]): the same text, or an error where transformers raised.
void CheckGoldens(const std::string& goldens_file, const std::string& name) {
  std::optional<Model> model = LoadModel(name);
  ASSERT_TRUE(model.has_value());
  const json goldens =
      ReadJson(std::filesystem::path(LOOM_SOURCE_DIR) / "tests/goldens" / goldens_file);
  ASSERT_TRUE(goldens.contains(name)) << name;
  const json& cases = goldens[name].is_array() ? goldens[name] : goldens[name]["chat"];
  ASSERT_GE(cases.size(), 4u);
  for (const json& c : cases) {
    const bool add_generation_prompt = c["add_generation_prompt"].get<bool>();
    SCOPED_TRACE(::testing::Message() << name << " add_generation_prompt=" << add_generation_prompt
                                      << " messages=" << c["messages"].dump());
    absl::StatusOr<std::string> text = RenderMessages(*model, c["messages"], add_generation_prompt);
    if (c.contains("error")) {
      EXPECT_FALSE(text.ok()) << "transformers raised: " << c["error"].get<std::string>();
      continue;
    }
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_EQ(*text, c["text"].get<std::string>());
  }
}

TEST(ChatTemplateGoldenTest, Llama3MatchesTransformers) {
  CheckGoldens("chat_templates.json", "llama3");
  CheckGoldens("tokenizers.json", "llama3");
}

TEST(ChatTemplateGoldenTest, Qwen3MatchesTransformers) {
  CheckGoldens("chat_templates.json", "qwen3");
  CheckGoldens("tokenizers.json", "qwen3");
}

TEST(ChatTemplateGoldenTest, DeepSeekV3MatchesTransformers) {
  CheckGoldens("chat_templates.json", "deepseek_v3");
}

TEST(ChatTemplateGoldenTest, Qwen3RejectsNullContentLikeTransformers) {
  std::optional<Model> model = LoadModel("qwen3");
  ASSERT_TRUE(model.has_value());
  const json messages = json::parse(R"([{"role": "user", "content": "q"},
    {"role": "assistant", "content": null}])");
  absl::StatusOr<std::string> text = RenderMessages(*model, messages, false);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(text.status().message(), HasSubstr("argument of type 'NoneType' is not iterable"));
}

TEST(ChatTemplateGoldenTest, Qwen3ExtraContextAndReasoning) {
  std::optional<Model> model = LoadModel("qwen3");
  ASSERT_TRUE(model.has_value());
  const json messages = json::parse(R"([{"role": "user", "content": "q"},
    {"role": "assistant", "content": "<think>\nplan\n</think>\n\nanswer"}])");
  absl::StatusOr<std::string> text =
      RenderMessages(*model, messages, true, json{{"enable_thinking", false}});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\nplan\n</think>\n\n"
            "answer<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

// DeepSeek-V3's template, read closely: BOS, then every system message (joined by a
// blank line) wherever it appears; users as <｜User｜>; assistants as
// <｜Assistant｜>...<｜end▁of▁sentence｜>; tool calls and tool outputs in their blocks;
// the generation prompt only when the conversation does not end in tool outputs.
class DeepSeekV3Test : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = LoadModel("deepseek_v3");
    ASSERT_TRUE(model_.has_value());
    ASSERT_EQ(model_->tokens.bos_token, "<｜begin▁of▁sentence｜>");
    ASSERT_EQ(model_->tokens.eos_token, "<｜end▁of▁sentence｜>");
  }

  std::string Render(const char* messages, bool add_generation_prompt) {
    absl::StatusOr<std::string> text =
        RenderMessages(*model_, json::parse(messages), add_generation_prompt);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? *text : "";
  }

  std::optional<Model> model_;
};

TEST_F(DeepSeekV3Test, SystemPromptsGoFirstJoinedByBlankLines) {
  const char* messages = R"([{"role": "user", "content": "a"},
    {"role": "system", "content": "S1"}, {"role": "assistant", "content": "b"},
    {"role": "system", "content": "S2"}])";
  EXPECT_EQ(Render(messages, false),
            "<｜begin▁of▁sentence｜>S1\n\nS2<｜User｜>a<｜Assistant｜>b<｜end▁of▁sentence｜>");
  EXPECT_EQ(Render(messages, true),
            "<｜begin▁of▁sentence｜>S1\n\nS2<｜User｜>a<｜Assistant｜>b<｜end▁of▁sentence｜>"
            "<｜Assistant｜>");
}

TEST_F(DeepSeekV3Test, ToolCallsAndOutputs) {
  const char* messages = R"([{"role": "user", "content": "w?"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}}]},
    {"role": "tool", "content": "r1"}, {"role": "tool", "content": "r2"},
    {"role": "assistant", "content": "done"}])";
  EXPECT_EQ(Render(messages, true),
            "<｜begin▁of▁sentence｜><｜User｜>w?<｜Assistant｜><｜tool▁calls▁begin｜>"
            "<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{\"x\": 1}\n```"
            "<｜tool▁call▁end｜><｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>r1"
            "<｜tool▁output▁end｜>\n<｜tool▁output▁begin｜>r2<｜tool▁output▁end｜>"
            "<｜tool▁outputs▁end｜>done<｜end▁of▁sentence｜><｜Assistant｜>");
}

TEST_F(DeepSeekV3Test, EndingInToolOutputsClosesThemWithoutAGenerationPrompt) {
  const char* messages = R"([{"role": "user", "content": "w?"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"type": "function", "function": {"name": "f", "arguments": "{}"}},
      {"type": "function", "function": {"name": "g", "arguments": "[]"}}]},
    {"role": "tool", "content": "r"}])";
  const std::string text = Render(messages, true);
  // As written, the template closes the calls after each call but the first.
  EXPECT_EQ(text,
            "<｜begin▁of▁sentence｜><｜User｜>w?<｜Assistant｜><｜tool▁calls▁begin｜>"
            "<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{}\n```<｜tool▁call▁end｜>\n"
            "<｜tool▁call▁begin｜>function<｜tool▁sep｜>g\n```json\n[]\n```<｜tool▁call▁end｜>"
            "<｜tool▁calls▁end｜><｜end▁of▁sentence｜><｜tool▁outputs▁begin｜>"
            "<｜tool▁output▁begin｜>r<｜tool▁output▁end｜><｜tool▁outputs▁end｜>");
  EXPECT_EQ(text, Render(messages, false));
}

TEST_F(DeepSeekV3Test, RendersEveryMessageSetWithAndWithoutGenerationPrompt) {
  const json goldens =
      ReadJson(std::filesystem::path(LOOM_SOURCE_DIR) / "tests/goldens/chat_templates.json");
  ASSERT_TRUE(goldens.contains("deepseek_v3"));
  for (const json& c : goldens["deepseek_v3"]) {
    for (bool add_generation_prompt : {false, true}) {
      absl::StatusOr<std::string> text =
          RenderMessages(*model_, c["messages"], add_generation_prompt);
      ASSERT_TRUE(text.ok()) << text.status();
      EXPECT_THAT(*text, StartsWith("<｜begin▁of▁sentence｜>"));
      const bool ends_in_tool = c["messages"].back()["role"] == "tool";
      EXPECT_EQ(text->ends_with("<｜Assistant｜>"), add_generation_prompt && !ends_in_tool);
    }
  }
}

TEST(ChatTemplateTest, RenderFromChatMessages) {
  absl::StatusOr<ChatTemplate> t = ChatTemplate::Parse(
      "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}"
      "{% if m.tool_calls %}+{{ m.tool_calls | length }}{% endif %}]{% endfor %}"
      "{% if add_generation_prompt %}>{% endif %}{{ unk_token is defined }}");
  ASSERT_TRUE(t.ok()) << t.status();
  std::vector<ChatMessage> messages = {{"user", "hi"}, {"assistant", "", nullptr}};
  messages[1].extra = json{{"content", nullptr}, {"tool_calls", json::array({1, 2})}};
  ChatTemplate::Options options;
  options.special_tokens.bos_token = "<s>";
  absl::StatusOr<std::string> text = t->Render(messages, options);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "<s>[user:hi][assistant:None+2]>False");
  options.add_generation_prompt = false;
  options.extra_context = json{{"messages", json::array()}};
  EXPECT_EQ(*t->Render(messages, options), "<s>False");
}

class ModelDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("chat_template_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  std::string RenderLoaded(std::string_view name = "default") {
    absl::StatusOr<ChatTemplate> t = ChatTemplate::LoadFromModelDir(dir_, name);
    if (!t.ok()) return "ERROR " + std::string(t.status().message());
    ChatTemplate::Options options;
    absl::StatusOr<std::string> text = t->RenderJson(json::array(), options);
    return text.ok() ? *text : "ERROR " + std::string(text.status().message());
  }

  std::filesystem::path dir_;
};

TEST_F(ModelDirTest, ReadsTokenizerConfigTemplate) {
  Write("tokenizer_config.json", R"({"chat_template": "config {{ add_generation_prompt }}"})");
  EXPECT_EQ(RenderLoaded(), "config True");
}

TEST_F(ModelDirTest, ChatTemplateJinjaWins) {
  Write("tokenizer_config.json", R"({"chat_template": "config"})");
  Write("chat_template.jinja", "from jinja file\n");
  EXPECT_EQ(RenderLoaded(), "from jinja file");  // the trailing newline is dropped
}

TEST_F(ModelDirTest, NamedTemplates) {
  Write("tokenizer_config.json", R"({"chat_template": [
    {"name": "tool_use", "template": "tools"}, {"name": "default", "template": "plain"}]})");
  EXPECT_EQ(RenderLoaded(), "plain");
  EXPECT_EQ(RenderLoaded("tool_use"), "tools");
  EXPECT_THAT(RenderLoaded("rag"), HasSubstr("no chat template named 'rag'"));
}

TEST_F(ModelDirTest, MissingTemplateIsNotFound) {
  EXPECT_EQ(ChatTemplate::LoadFromModelDir(dir_).status().code(), absl::StatusCode::kNotFound);
  Write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  absl::Status status = ChatTemplate::LoadFromModelDir(dir_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("has no chat_template"));
}

TEST_F(ModelDirTest, BadFilesAreInvalidArgument) {
  Write("tokenizer_config.json", "{not json");
  EXPECT_EQ(ChatTemplate::LoadFromModelDir(dir_).status().code(),
            absl::StatusCode::kInvalidArgument);
  Write("tokenizer_config.json", R"({"chat_template": "line1\n{% for %}"})");
  EXPECT_THAT(ChatTemplate::LoadFromModelDir(dir_).status().message(),
              HasSubstr("chat_template:2: "));
}

TEST_F(ModelDirTest, SpecialTokens) {
  Write("tokenizer_config.json", R"({"bos_token": {"__type": "AddedToken", "content": "<b>"},
    "eos_token": "</s>", "unk_token": null})");
  absl::StatusOr<ChatSpecialTokens> tokens = ReadChatSpecialTokens(dir_);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->bos_token, "<b>");
  EXPECT_EQ(tokens->eos_token, "</s>");
  EXPECT_EQ(tokens->unk_token, std::nullopt);
  EXPECT_EQ(tokens->pad_token, std::nullopt);
  Write("tokenizer_config.json", R"({"bos_token": 7})");
  EXPECT_EQ(ReadChatSpecialTokens(dir_).status().code(), absl::StatusCode::kInvalidArgument);
  std::filesystem::remove(dir_ / "tokenizer_config.json");
  EXPECT_TRUE(ReadChatSpecialTokens(dir_).ok());
}

TEST(ChatTemplateTest, RealSpecialTokens) {
  absl::StatusOr<ChatSpecialTokens> qwen3 = ReadChatSpecialTokens(TokenizerDir("qwen3"));
  ASSERT_TRUE(qwen3.ok()) << qwen3.status();
  EXPECT_EQ(qwen3->bos_token, std::nullopt);
  EXPECT_EQ(qwen3->eos_token, "<|im_end|>");
  absl::StatusOr<ChatSpecialTokens> llama3 = ReadChatSpecialTokens(TokenizerDir("llama3"));
  ASSERT_TRUE(llama3.ok()) << llama3.status();
  EXPECT_EQ(llama3->bos_token, "<|begin_of_text|>");
}

}  // namespace
}  // namespace loom
