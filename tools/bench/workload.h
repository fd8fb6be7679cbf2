// The workloads of `loom bench` (../shared/BENCHMARK.md, "Workloads"), made into request
// sets from what the model tells: its vocabulary, its session_len and its tokenizer.
// In-process, those come from the loaded model; with --server, from ListModels and the
// Tokenize RPC. The same model and seed give the same set either way.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "tools/bench/request_set.h"
#include "tools/bench/sharegpt.h"

namespace loom::bench {

// The --workload names.
inline constexpr char kLatency[] = "latency";
inline constexpr char kShareGptSynth[] = "sharegpt-synth";
inline constexpr char kShareGpt[] = "sharegpt";

struct WorkloadOptions {
  std::string workload;  // one of the names above
  std::string dataset;   // the ShareGPT JSON file, for kShareGpt
  int num_prompts = 0;
  uint64_t seed = 0;
};

struct ModelFacts {
  // Random prompts draw ids from [0, prompt_id_limit) except special_ids: the
  // tokenizer's vocab_size() and SpecialTokenIds() in-process, ModelInfo.vocab_size and
  // special_token_ids through gRPC.
  int32_t prompt_id_limit = 0;
  std::vector<int32_t> special_ids;  // sorted
  int session_len = 0;
  EncodeFn encode;  // for sharegpt
};

// The default --num-prompts: 2000 for the throughput workloads (BENCHMARK.md), 10 for
// latency.
int DefaultNumPrompts(const std::string& workload);

// Errors: InvalidArgument for an unknown workload, a missing --dataset or a dataset of
// which no conversation passes the filter; ReadShareGpt's and the workload's own.
absl::StatusOr<RequestSet> BuildRequestSet(const WorkloadOptions& options, const ModelFacts& model);

}  // namespace loom::bench
