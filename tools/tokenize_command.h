// `loom tokenize TOKENIZER_DIR --text TEXT | --text-file FILE [--add-special-tokens]
//  [--json]`
#pragma once

#include "CLI/CLI.hpp"

namespace loom {

void AddTokenizeCommand(CLI::App& app, int& exit_code);

}  // namespace loom
