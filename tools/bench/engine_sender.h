// Sends benchmark requests straight to an in-process Engine (Engine::Submit), timing the
// outputs as they come off each request's channel.
//
// Every request decodes greedily (temperature 0), ignores EOS and stops at output_len.
//
// Thread-safety: Send() may be called from any number of threads at once.
#pragma once

#include <atomic>
#include <cstdint>

#include "engine/engine.h"
#include "tools/bench/runner.h"

namespace loom::bench {

class EngineSender : public RequestSender {
 public:
  // `engine` must outlive the sender.
  explicit EngineSender(Engine* engine) : engine_(engine) {}

  RequestRecord Send(const BenchRequest& request) override;

 private:
  Engine* engine_;
  std::atomic<int64_t> next_id_{0};
};

}  // namespace loom::bench
