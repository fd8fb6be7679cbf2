// The terminal loop shared by `loom chat` and `loom client`: reads a line, runs it as
// one chat turn, streams the reply. "/reset" starts a new conversation, "/exit" (or end
// of input) ends it.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>

#include "absl/status/status.h"

namespace loom {

struct ChatRepl {
  // Runs one turn: sends `user_text` and writes the reply to `out` as it streams.
  std::function<absl::Status(const std::string& user_text, std::ostream& out)> turn;
  // Forgets the conversation (ends its server-side session).
  std::function<absl::Status()> reset;
};

// Loops until /exit or end of input. A failed turn is reported on `err` and the loop
// goes on; a failed reset ends it with that status.
absl::Status RunChatRepl(const ChatRepl& repl, std::istream& in, std::ostream& out,
                         std::ostream& err);

}  // namespace loom
