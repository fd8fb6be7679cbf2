// A one-line progress bar, redrawn in place on stderr at most ten times a second. It
// draws only when enabled, which `loom bench` sets to isatty(stderr): piped or
// redirected output never gets carriage returns.
//
// Thread-safety: none; serialize the calls (RunOptions::on_progress is serialized).
#pragma once

#include <chrono>

namespace loom::bench {

class ProgressBar {
 public:
  ProgressBar(int total, bool enabled);

  void Update(int done);
  // Ends the line. Call once, after the last Update().
  void Finish();

 private:
  void Draw(int done);

  const int total_;
  const bool enabled_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace loom::bench
