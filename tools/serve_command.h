// `loom serve [MODEL_DIR]`: the gRPC server (server/server.h) until SIGTERM or SIGINT.
#pragma once

#include "CLI/CLI.hpp"

namespace loom {

void AddServeCommand(CLI::App& app, int& exit_code);

}  // namespace loom
