// Running the real `loom` binary from tests: one command to completion, or `loom serve`
// as a child process for clients to talk to.
#pragma once

#include <string>

namespace loom::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

// Runs `loom ARGS` through the shell. `input_command`, when given, is a shell command
// whose output is piped into loom's stdin (e.g. "printf 'hi\n' | ").
CliResult RunLoom(const std::string& args, const std::string& input_command = "");

// `loom serve --port 0 --metrics-port -1 ARGS` on a free port, started in the constructor
// (which waits up to 60 s for its "127.0.0.1:PORT" line) and stopped with SIGTERM by the
// destructor. port() is 0 when it did not start.
class ServeProcess {
 public:
  explicit ServeProcess(const std::string& args = "");
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  int port() const { return port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::string log_;
  int pid_ = -1;
  int port_ = 0;
};

}  // namespace loom::testing
