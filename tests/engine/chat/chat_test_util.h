// Helpers shared by the chat tests: the real tokenizers fetched by scripts/setup.sh, the
// goldens of tests/goldens, and messages from their JSON.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/text/jinja/chat_template.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace loom::chat_test {

inline std::filesystem::path TokenizerDir(const std::string& name) {
  return std::filesystem::path(LOOM_DEPS_DIR) / "tokenizers" / name;
}

inline nlohmann::ordered_json ReadGoldens(const std::string& file) {
  std::ifstream in(std::filesystem::path(LOOM_SOURCE_DIR) / "tests/goldens" / file);
  EXPECT_TRUE(in.good()) << "cannot open tests/goldens/" << file;
  std::stringstream contents;
  contents << in.rdbuf();
  return nlohmann::ordered_json::parse(contents.str(), nullptr, /*allow_exceptions=*/false);
}

// The messages of a golden case; false when one has a role other than system, user and
// assistant or a content that is not a string (tool calls).
inline bool PlainMessages(const nlohmann::ordered_json& json, std::vector<ChatMessage>* out) {
  out->clear();
  for (const auto& m : json) {
    const std::string role = m["role"].get<std::string>();
    if (role != "system" && role != "user" && role != "assistant") return false;
    if (!m["content"].is_string()) return false;
    out->push_back(ChatMessage{.role = role, .content = m["content"].get<std::string>()});
  }
  return true;
}

inline ChatMessage System(std::string content) { return {.role = "system", .content = content}; }
inline ChatMessage User(std::string content) { return {.role = "user", .content = content}; }
inline ChatMessage Assistant(std::string content) {
  return {.role = "assistant", .content = content};
}

}  // namespace loom::chat_test
