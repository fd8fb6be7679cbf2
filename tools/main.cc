// The loom command-line tool. Each subcommand lives in its own *_command.cc.
#include <iostream>

#include "CLI/CLI.hpp"
#include "loom/version.h"
#include "tools/bench_command.h"
#include "tools/chat_command.h"
#include "tools/check_env_command.h"
#include "tools/client_command.h"
#include "tools/generate_command.h"
#include "tools/serve_command.h"
#include "tools/tokenize_command.h"

int main(int argc, char** argv) {
  CLI::App app{"loom: an LLM inference server"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("loom ") + loom::kLoomVersion + " (commit " +
                                        loom::kLoomCommit + ")");
  int exit_code = 0;
  loom::AddGenerateCommand(app, exit_code);
  loom::AddTokenizeCommand(app, exit_code);
  loom::AddServeCommand(app, exit_code);
  loom::AddClientCommand(app, exit_code);
  loom::AddChatCommand(app, exit_code);
  loom::AddCheckEnvCommand(app, exit_code);
  loom::AddBenchCommand(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
