#include "tools/bench/token_timer.h"

namespace loom::bench {

void TokenTimer::OnMessage(double t_s, int num_tokens) {
  if (num_tokens <= 0) return;
  if (num_tokens_ == 0) {
    ttft_s_ = t_s;
  } else {
    const double gap = (t_s - last_s_) / num_tokens;
    itl_s_.insert(itl_s_.end(), num_tokens, gap);
  }
  last_s_ = t_s;
  num_tokens_ += num_tokens;
}

}  // namespace loom::bench
