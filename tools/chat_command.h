// `loom chat [MODEL_DIR]`: an interactive chat in the terminal with no server, like
// `lmdeploy chat`. It applies the model's chat template, keeps the conversation in an
// engine session (each turn prefills only its new tokens), streams the reply, and
// accepts /reset and /exit.
#pragma once

#include "CLI/CLI.hpp"

namespace loom {

void AddChatCommand(CLI::App& app, int& exit_code);

}  // namespace loom
