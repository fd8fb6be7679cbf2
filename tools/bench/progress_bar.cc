#include "tools/bench/progress_bar.h"

#include <cstdio>
#include <string>

namespace loom::bench {

ProgressBar::ProgressBar(int total, bool enabled)
    : total_(total), enabled_(enabled), start_(std::chrono::steady_clock::now()) {
  if (enabled_) Draw(0);
}

void ProgressBar::Update(int done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  Draw(done);
}

void ProgressBar::Finish() {
  if (enabled_ && drawn_) std::fputc('\n', stderr);
}

void ProgressBar::Draw(int done) {
  constexpr int kWidth = 40;
  const int filled = total_ > 0 ? done * kWidth / total_ : kWidth;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "\r[%s%s] %d/%d requests, %.1f s", std::string(filled, '#').c_str(),
               std::string(kWidth - filled, '.').c_str(), done, total_, elapsed);
  std::fflush(stderr);
  last_draw_ = std::chrono::steady_clock::now();
  drawn_ = true;
}

}  // namespace loom::bench
