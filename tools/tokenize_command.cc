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
#include "engine/text/tokenizer.h"
#include "nlohmann/json.hpp"

namespace loom {
namespace {

struct TokenizeFlags {
  std::string tokenizer_dir;
  std::optional<std::string> text;
  std::optional<std::string> text_file;
  bool add_special_tokens = false;
  bool json = false;
};

absl::Status RunTokenize(const TokenizeFlags& flags) {
  std::string text;
  if (flags.text.has_value()) {
    text = *flags.text;
  } else {
    std::ifstream in(*flags.text_file, std::ios::binary);
    if (!in)
      return absl::NotFoundError(absl::StrCat("--text-file: cannot read ", *flags.text_file));
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  }
  auto tokenizer = Tokenizer::Load(flags.tokenizer_dir);
  if (!tokenizer.ok()) return tokenizer.status();
  auto ids = (*tokenizer)->Encode(text, flags.add_special_tokens);
  if (!ids.ok()) return ids.status();
  if (flags.json) {
    std::cout << nlohmann::json{{"ids", *ids}}.dump() << "\n";
  } else {
    std::cout << absl::StrJoin(*ids, " ") << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

void AddTokenizeCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<TokenizeFlags>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
  cmd->add_option("TOKENIZER_DIR", flags->tokenizer_dir,
                  "Directory with tokenizer.json (and tokenizer_config.json)")
      ->required();
  auto* text = cmd->add_option("--text", flags->text, "Text to tokenize");
  auto* text_file = cmd->add_option("--text-file", flags->text_file, "File with the text");
  text->excludes(text_file);
  cmd->add_flag("--add-special-tokens", flags->add_special_tokens,
                "Apply the tokenizer's post-processor (e.g. BOS)");
  cmd->add_flag("--json", flags->json, "Print {\"ids\": [...]}");
  cmd->callback([flags, &exit_code] {
    if (!flags->text && !flags->text_file) throw CLI::RequiredError("--text or --text-file");
    if (auto status = RunTokenize(*flags); !status.ok()) {
      std::cerr << "loom tokenize: " << status.message() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace loom
