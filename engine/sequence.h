// A request inside the engine worker: its tokens, where its keys and values live, and
// its per-request sampling and text state.
//
// Thread-safety: worker-thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "engine/output_channel.h"
#include "engine/request.h"
#include "engine/sampler.h"
#include "engine/stop_strings.h"
#include "engine/text/detokenizer.h"

namespace loom {

struct Sequence {
  Sequence(Request request_in, std::shared_ptr<OutputChannel> channel_in, int64_t arrival_in,
           absl::Time arrival_time_in, Detokenizer detokenizer_in)
      : request(std::move(request_in)),
        channel(std::move(channel_in)),
        arrival(arrival_in),
        arrival_time(arrival_time_in),
        tokens(request.prompt_ids),
        num_prompt_tokens(static_cast<int>(request.prompt_ids.size())),
        sampler(request.sampling, request.prompt_ids),
        stop_strings(request.stop.stop),
        detokenizer(std::move(detokenizer_in)) {}

  int num_output_tokens() const { return static_cast<int>(tokens.size()) - num_prompt_tokens; }
  // Tokens still to run through the model before the next token can be sampled.
  int num_uncomputed() const { return static_cast<int>(tokens.size()) - num_computed; }

  Request request;
  std::shared_ptr<OutputChannel> channel;
  int64_t arrival;  // submission order: FCFS admits by it, preemption takes the largest
  absl::Time arrival_time;

  std::vector<int32_t> tokens;  // prompt, then every sampled token
  int num_prompt_tokens;
  int num_computed = 0;                // leading tokens whose keys and values are in `blocks`
  std::vector<int32_t> blocks;         // block table, from the first token
  std::vector<uint64_t> block_hashes;  // chained hashes of the published full blocks
  int num_cached_prompt_tokens = 0;    // resident (session) or from the prefix cache at
                                       // first admission
  bool admitted_once = false;
  // A session turn: the leading tokens that earlier turns left (request.prompt_ids holds
  // them, then the turn's new tokens).
  int num_session_tokens = 0;
  // What the request counts against the queue's bounds until it starts running or ends
  // (RequestQueue::Started); -1 after.
  int64_t queued_tokens = -1;

  Sampler sampler;
  StopStrings stop_strings;
  Detokenizer detokenizer;
  bool stopped_by_string = false;
  absl::Time last_token_time;  // when the latest token was sampled
  RequestOutput pending;       // tokens and text not yet pushed to the channel
};

}  // namespace loom
