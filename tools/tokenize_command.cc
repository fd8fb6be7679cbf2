#include "tools/tokenize_command.h"

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/text/jinja/chat_template.h"
#include "engine/text/tokenizer.h"
#include "nlohmann/json.hpp"

namespace loom {
namespace {

struct TokenizeFlags {
  std::string tokenizer_dir;
  std::optional<std::string> text;
  std::optional<std::string> text_file;
  std::optional<std::string> chat_file;
  bool add_special_tokens = false;
  bool add_generation_prompt = false;
  bool json = false;
};

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The model's chat template applied to the messages of --chat-file (a JSON array of
// {"role", "content", ...} objects, passed through as they are).
absl::StatusOr<std::string> RenderChat(const TokenizeFlags& flags) {
  absl::StatusOr<std::string> contents = ReadFile(*flags.chat_file, "--chat-file");
  if (!contents.ok()) return contents.status();
  const nlohmann::ordered_json messages =
      nlohmann::ordered_json::parse(*contents, nullptr, /*allow_exceptions=*/false);
  if (!messages.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--chat-file: ", *flags.chat_file, " is not a JSON array of messages"));
  }
  absl::StatusOr<ChatTemplate> chat_template = ChatTemplate::LoadFromModelDir(flags.tokenizer_dir);
  if (!chat_template.ok()) return chat_template.status();
  absl::StatusOr<ChatSpecialTokens> tokens = ReadChatSpecialTokens(flags.tokenizer_dir);
  if (!tokens.ok()) return tokens.status();
  ChatTemplate::Options options;
  options.add_generation_prompt = flags.add_generation_prompt;
  options.special_tokens = *std::move(tokens);
  return chat_template->RenderJson(messages, options);
}

absl::Status RunTokenize(const TokenizeFlags& flags) {
  absl::StatusOr<std::string> text;
  if (flags.chat_file.has_value()) {
    text = RenderChat(flags);
  } else if (flags.text.has_value()) {
    text = *flags.text;
  } else {
    text = ReadFile(*flags.text_file, "--text-file");
  }
  if (!text.ok()) return text.status();
  auto tokenizer = Tokenizer::Load(flags.tokenizer_dir);
  if (!tokenizer.ok()) return tokenizer.status();
  // A rendered chat already holds its special tokens: never add them again.
  const bool add_special_tokens = flags.add_special_tokens && !flags.chat_file.has_value();
  auto ids = (*tokenizer)->Encode(*text, add_special_tokens);
  if (!ids.ok()) return ids.status();
  if (flags.json && flags.chat_file.has_value()) {
    const nlohmann::ordered_json out = {{"text", *text}, {"ids", *ids}};
    std::cout << out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  } else if (flags.json) {
    std::cout << nlohmann::json{{"ids", *ids}}.dump() << "\n";
  } else {
    std::cout << absl::StrJoin(*ids, " ") << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

void AddTokenizeCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<TokenizeFlags>();
  CLI::App* cmd =
      app.add_subcommand("tokenize", "Print the token ids of a text or of a rendered chat");
  cmd->add_option("TOKENIZER_DIR", flags->tokenizer_dir,
                  "Directory with tokenizer.json (and tokenizer_config.json)")
      ->required();
  auto* text = cmd->add_option("--text", flags->text, "Text to tokenize");
  auto* text_file = cmd->add_option("--text-file", flags->text_file, "File with the text");
  auto* chat_file = cmd->add_option(
      "--chat-file", flags->chat_file,
      "JSON array of {\"role\", \"content\"} messages to render with the model's chat "
      "template (its ids are encoded without adding special tokens again)");
  text->excludes(text_file);
  chat_file->excludes(text)->excludes(text_file);
  auto* special = cmd->add_flag("--add-special-tokens", flags->add_special_tokens,
                                "Apply the tokenizer's post-processor (e.g. BOS)");
  special->excludes(chat_file);
  cmd->add_flag("--add-generation-prompt", flags->add_generation_prompt,
                "With --chat-file: end with the assistant's turn header")
      ->needs(chat_file);
  cmd->add_flag("--json", flags->json,
                "Print {\"ids\": [...]} ({\"text\": ..., \"ids\": [...]} with --chat-file)");
  cmd->callback([flags, &exit_code] {
    if (!flags->text && !flags->text_file && !flags->chat_file) {
      throw CLI::RequiredError("--text, --text-file or --chat-file");
    }
    if (auto status = RunTokenize(*flags); !status.ok()) {
      std::cerr << "loom tokenize: " << status.message() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace loom
