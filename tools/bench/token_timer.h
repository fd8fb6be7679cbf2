// Client-side timing of one streamed request: time to first token and the per-token
// latencies, as the client receives the messages.
//
// Per-token latency is the gap between consecutive messages that carry tokens. A message
// may carry several tokens (the server coalesces what the engine made while the previous
// write was in flight): its gap is then spread evenly over them, k tokens after a gap g
// counting k latencies of g / k, so that every token after the first has one latency and
// a coalesced burst neither hides nor inflates the time per token. The first message's
// extra tokens arrived with the first token; they have no gap to measure and count none.
//
// Thread-safety: none; one timer per request.
#pragma once

#include <vector>

namespace loom::bench {

class TokenTimer {
 public:
  // A message with `num_tokens` tokens arrived `t_s` seconds after the request was sent.
  // Messages without tokens (a bare final message) are ignored.
  // REQUIRES: t_s does not decrease from call to call.
  void OnMessage(double t_s, int num_tokens);

  bool has_first_token() const { return num_tokens_ > 0; }
  double ttft_s() const { return ttft_s_; }  // REQUIRES: has_first_token()
  const std::vector<double>& itl_s() const { return itl_s_; }
  int num_tokens() const { return num_tokens_; }

 private:
  double ttft_s_ = 0;
  double last_s_ = 0;
  int num_tokens_ = 0;
  std::vector<double> itl_s_;
};

}  // namespace loom::bench
