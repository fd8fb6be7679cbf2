// `loom bench [MODEL_DIR | --server HOST:PORT] [--workload latency|sharegpt-synth|sharegpt]
//  [--dataset FILE] [--num-prompts N] [--concurrency C] [--seed S] [--request-rate R]
//  [--json FILE] [--dump-requests FILE | --requests FILE]`: the throughput and latency
// benchmark of ../shared/BENCHMARK.md, in-process or against a running `loom serve`.
#pragma once

#include "CLI/CLI.hpp"

namespace loom {

// Adds the subcommand to `app`; it runs when parsed and sets the exit code through
// `exit_code` (1 on an error or when any request failed).
void AddBenchCommand(CLI::App& app, int& exit_code);

}  // namespace loom
