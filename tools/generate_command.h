// `loom generate [MODEL_DIR] --prompt TEXT | --prompt-file FILE [--max-tokens N]
//  [--temperature T] [--top-k K] [--top-p P] [--seed S] [--json]`
#pragma once

#include "CLI/CLI.hpp"

namespace loom {

// Adds the subcommand to `app`; it runs when parsed and sets the exit code through
// `exit_code`.
void AddGenerateCommand(CLI::App& app, int& exit_code);

}  // namespace loom
