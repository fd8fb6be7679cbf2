// The real ShareGPT workload: ShareGPT_V3_unfiltered_cleaned_split.json, a JSON array of
//   {"id": ..., "conversations": [{"from": "human", "value": ...},
//                                 {"from": "gpt", "value": ...}, ...]}
// sampled with the standard filtering of vLLM's and LMDeploy's benchmarks: the first turn
// is the prompt and the token length of the first reply is the output length; a
// conversation with fewer than two turns is dropped, and so is a pair whose prompt or
// output has fewer than 4 tokens, whose prompt has more than 1024, or whose prompt +
// output has more than 2048 (or the model's session_len, when smaller).
//
// Sampling is theirs too: shuffle the conversations with the seed, then take them in that
// order, filtering as they come, until num_prompts pass. Only the pairs looked at are
// tokenized, which matters when each Encode is an RPC.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/bench/request_set.h"

namespace loom::bench {

struct ShareGptPair {
  std::string prompt;  // the first turn
  std::string reply;   // the second

  bool operator==(const ShareGptPair&) const = default;
};

// The first two turns of every conversation that has two, in file order. It streams the
// file (a SAX parse keeping only those turns), so the 650 MB file needs little memory.
// Errors: NotFound when the file cannot be read; InvalidArgument naming the file for bad
// JSON or a shape other than the one above.
absl::StatusOr<std::vector<ShareGptPair>> ReadShareGpt(const std::filesystem::path& path);

// Text to token ids. The prompt is encoded with add_special_tokens (BOS, as the model
// sees it); the reply without (only its length counts).
using EncodeFn =
    std::function<absl::StatusOr<std::vector<int32_t>>(const std::string& text, bool special)>;

struct ShareGptFilter {
  int min_len = 4;
  int max_prompt_len = 1024;
  int max_total_len = 2048;
};

// Up to num_prompts requests (fewer when fewer pairs pass the filter).
// Errors: InvalidArgument when num_prompts < 1; `encode`'s errors.
absl::StatusOr<RequestSet> SampleShareGpt(const std::vector<ShareGptPair>& pairs, int num_prompts,
                                          uint64_t seed, const EncodeFn& encode,
                                          const ShareGptFilter& filter = {});

}  // namespace loom::bench
