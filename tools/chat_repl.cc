#include "tools/chat_repl.h"

#include <istream>
#include <ostream>

namespace loom {

absl::Status RunChatRepl(const ChatRepl& repl, std::istream& in, std::ostream& out,
                         std::ostream& err) {
  out << "Type a message; /reset starts over, /exit quits.\n";
  std::string line;
  while (true) {
    out << "\n>>> " << std::flush;
    if (!std::getline(in, line) || line == "/exit") break;
    if (line.empty()) continue;
    if (line == "/reset") {
      if (auto status = repl.reset(); !status.ok()) return status;
      out << "(new conversation)\n";
      continue;
    }
    if (auto status = repl.turn(line, out); !status.ok()) {
      err << "error: " << status << "\n";
    }
    out << "\n";
  }
  out << "\n";
  return repl.reset();
}

}  // namespace loom
