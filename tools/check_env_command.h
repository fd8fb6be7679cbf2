// `loom check-env`: the build's features and the GPUs this process can see.
#pragma once

#include "CLI/CLI.hpp"

namespace loom {

void AddCheckEnvCommand(CLI::App& app, int& exit_code);

}  // namespace loom
