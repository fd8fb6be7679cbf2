#include "tests/tools/loom_cli.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace loom::testing {

CliResult RunLoom(const std::string& args, const std::string& input_command) {
  const std::string command = input_command + std::string(LOOM_BINARY) + " " + args + " 2>&1";
  CliResult run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) run.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

ServeProcess::ServeProcess(const std::string& args) {
  static std::atomic<int> next{0};
  log_ = ::testing::TempDir() + "/loom_serve_" + std::to_string(getpid()) + "_" +
         std::to_string(next++) + ".log";
  const std::string command = std::string(LOOM_BINARY) + " serve --port 0 --metrics-port -1 " +
                              args + " 2>" + log_ + " & echo $!";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe != nullptr && fscanf(pipe, "%d", &pid_) != 1) pid_ = -1;
  if (pipe != nullptr) pclose(pipe);
  for (int i = 0; i < 600 && port_ == 0; ++i) {  // up to 60 s
    std::ifstream in(log_);
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    if (size_t at = s.find("127.0.0.1:"); at != std::string::npos) {
      port_ = std::atoi(s.c_str() + at + 10);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

ServeProcess::~ServeProcess() {
  if (pid_ > 0) kill(pid_, SIGTERM);
}

}  // namespace loom::testing
