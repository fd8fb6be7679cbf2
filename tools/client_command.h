// `loom client HOST:PORT`: talks to a `loom serve`, like `lmdeploy serve api_client`.
// Interactive: chats with streaming output, keeping the history in a server session.
// With --prompt TEXT: answers once and exits (non-zero, printing the gRPC status, on
// error).
#pragma once

#include "CLI/CLI.hpp"

namespace loom {

void AddClientCommand(CLI::App& app, int& exit_code);

}  // namespace loom
