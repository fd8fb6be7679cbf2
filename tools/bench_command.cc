#include "tools/bench_command.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/model/model_config.h"
#include "engine/model_loader.h"
#include "engine/text/tokenizer.h"
#include "server/served_model.h"
#include "tools/bench/engine_sender.h"
#include "tools/bench/grpc_client.h"
#include "tools/bench/grpc_sender.h"
#include "tools/bench/progress_bar.h"
#include "tools/bench/report.h"
#include "tools/bench/request_set.h"
#include "tools/bench/runner.h"
#include "tools/bench/synthetic.h"
#include "tools/bench/workload.h"
#include "tools/bundled_model.h"

namespace loom {
namespace {

using bench::BenchReport;
using bench::ModelFacts;
using bench::RequestSet;

struct BenchFlags {
  std::string model_dir;
  std::string server;
  std::string api_key;
  std::string model;
  std::string workload = bench::kShareGptSynth;
  std::string dataset;
  std::optional<int> num_prompts;
  int concurrency = 256;
  uint64_t seed = 0;
  double request_rate = std::numeric_limits<double>::infinity();
  std::string json;
  std::string dump_requests;
  std::string requests;
  EngineOptions engine;
  std::string backend = "cpu";
  std::string dtype = "auto";
  bool enable_prefix_caching = EngineConfig{}.enable_prefix_caching;
  bool async_scheduling = EngineConfig{}.async_scheduling;
};

// In-process facts, from the model's own tokenizer.
ModelFacts LocalFacts(const Tokenizer& tokenizer, int session_len) {
  return ModelFacts{
      .prompt_id_limit = tokenizer.vocab_size(),
      .special_ids = tokenizer.SpecialTokenIds(),
      .session_len = session_len,
      .encode = [&tokenizer](const std::string& text,
                             bool special) { return tokenizer.Encode(text, special); },
  };
}

// The request set the flags ask for: read from --requests, else made by the workload.
absl::StatusOr<RequestSet> MakeRequestSet(const BenchFlags& flags, const ModelFacts& facts) {
  if (!flags.requests.empty()) return bench::ReadRequestSet(flags.requests);
  if (flags.workload == bench::kLatency) {
    const bench::SynthLengths lengths = bench::LatencyLengths(facts.session_len);
    if (lengths.prompt_len + lengths.output_len < 424) {
      std::cerr << "loom bench: session_len " << facts.session_len << " is under 224 + 200: "
                << "latency requests scaled down to " << lengths.prompt_len << " + "
                << lengths.output_len << " tokens\n";
    }
  }
  return bench::BuildRequestSet(
      {.workload = flags.workload,
       .dataset = flags.dataset,
       .num_prompts = flags.num_prompts.value_or(bench::DefaultNumPrompts(flags.workload)),
       .seed = flags.seed},
      facts);
}

absl::Status WriteDump(const BenchFlags& flags, const RequestSet& set) {
  if (auto status = bench::WriteRequestSet(set, flags.dump_requests); !status.ok()) {
    return status;
  }
  std::cerr << "loom bench: wrote " << set.requests.size() << " " << set.workload
            << " requests (seed " << set.seed << ") to " << flags.dump_requests << "\n";
  return absl::OkStatus();
}

// Runs `set` through `sender` and prints the report; the status says whether every
// request finished.
absl::Status RunAndReport(const BenchFlags& flags, const RequestSet& set,
                          bench::RequestSender& sender, const std::string& mode) {
  const int concurrency = set.workload == bench::kLatency ? 1 : flags.concurrency;
  const std::optional<double> rate =
      std::isinf(flags.request_rate) ? std::nullopt : std::optional<double>(flags.request_rate);
  std::cerr << "loom bench: " << set.requests.size() << " " << set.workload << " requests, "
            << "concurrency " << concurrency << ", " << mode << "\n";
  bench::ProgressBar progress(static_cast<int>(set.requests.size()), isatty(STDERR_FILENO) == 1);
  const bench::RunResult result =
      bench::RunRequests(set, sender,
                         {.concurrency = concurrency,
                          .request_rate = rate,
                          .seed = set.seed,
                          .on_progress = [&progress](int done) { progress.Update(done); }});
  progress.Finish();

  const BenchReport report = bench::Summarize(result.records, result.elapsed_s,
                                              {.workload = set.workload,
                                               .mode = mode,
                                               .seed = set.seed,
                                               .concurrency = concurrency,
                                               .num_prompts = static_cast<int>(set.requests.size()),
                                               .request_rate = rate});
  std::cout << bench::FormatReport(report) << std::flush;
  if (!flags.json.empty()) {
    const std::string text = bench::ReportToJson(report).dump(2) + "\n";
    if (flags.json == "-") {
      std::cout << text;
    } else {
      std::ofstream out(flags.json, std::ios::trunc);
      out << text;
      out.close();
      if (!out) return absl::InternalError(absl::StrCat("--json: cannot write ", flags.json));
    }
  }
  if (report.failed > 0) {
    return absl::InternalError(absl::StrCat(report.failed, " of ", set.requests.size(),
                                            " requests failed; first: ", report.errors.front()));
  }
  return absl::OkStatus();
}

absl::Status RunInProcess(const BenchFlags& flags) {
  std::filesystem::path dir = flags.model_dir;
  if (dir.empty()) {
    auto bundled = BundledModelDir();
    if (!bundled.ok()) return bundled.status();
    dir = *bundled;
  }
  if (!flags.dump_requests.empty()) {
    // Only the set is wanted: the tokenizer and config, not the weights.
    auto config = LoadModelConfig(dir);
    if (!config.ok()) return config.status();
    auto tokenizer = Tokenizer::Load(dir);
    if (!tokenizer.ok()) return tokenizer.status();
    const int session_len =
        flags.engine.session_len > 0 ? flags.engine.session_len : config->max_position_embeddings;
    if (session_len > config->max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--session-len ", session_len, " exceeds the model's max_position_embeddings ",
          config->max_position_embeddings));
    }
    auto set = MakeRequestSet(flags, LocalFacts(**tokenizer, session_len));
    if (!set.ok()) return set.status();
    return WriteDump(flags, *set);
  }
  EngineConfig config;
  config.enable_prefix_caching = flags.enable_prefix_caching;
  config.async_scheduling = flags.async_scheduling;
  config.max_queued_requests = std::max(config.max_queued_requests, flags.concurrency);
  auto served = LoadServedModel(dir, "", flags.engine, config,
                                ServedModelOptions{.backend = flags.backend, .dtype = flags.dtype});
  if (!served.ok()) return served.status();
  const LoadedModel& model = served->engine->model();
  auto set = MakeRequestSet(flags, LocalFacts(*model.tokenizer, model.session_len));
  if (!set.ok()) return set.status();
  bench::EngineSender sender(served->engine.get());
  return RunAndReport(flags, *set, sender, "in-process");
}

absl::Status RunAgainstServer(const BenchFlags& flags) {
  const bench::GrpcTarget target{
      .address = flags.server, .api_key = flags.api_key, .model = flags.model};
  // A connection apart from the senders' for ListModels and Tokenize.
  std::unique_ptr<v1::Generation::Stub> control = bench::NewStub(target, -1);
  absl::StatusOr<RequestSet> set;
  if (!flags.requests.empty()) {
    set = bench::ReadRequestSet(flags.requests);
  } else {
    auto remote = bench::FetchRemoteModel(*control, target);
    if (!remote.ok()) return remote.status();
    set = MakeRequestSet(flags, {.prompt_id_limit = remote->vocab_size,
                                 .special_ids = remote->special_ids,
                                 .session_len = remote->max_context,
                                 .encode = bench::RemoteEncoder(control.get(), target)});
  }
  if (!set.ok()) return set.status();
  if (!flags.dump_requests.empty()) return WriteDump(flags, *set);
  bench::GrpcSender sender(target, flags.concurrency);
  return RunAndReport(flags, *set, sender, "grpc");
}

}  // namespace

void AddBenchCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<BenchFlags>();
  BenchFlags& f = *flags;
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Measure throughput and latency (../shared/BENCHMARK.md workloads), in-process or "
      "against a loom server");
  auto* model_dir = cmd->add_option(
      "MODEL_DIR", f.model_dir,
      "Hugging Face model directory to run in-process (default: the bundled tiny model)");
  auto* server = cmd->add_option("--server", f.server,
                                 "Benchmark a running `loom serve` at HOST:PORT over gRPC");
  server->excludes(model_dir);
  cmd->add_option("--api-key", f.api_key, "With --server: sent as 'authorization: Bearer KEY'")
      ->needs(server);
  cmd->add_option("--model", f.model, "With --server: the model name (default: the server's)")
      ->needs(server);
  auto* workload = cmd->add_option("--workload", f.workload, "latency, sharegpt-synth or sharegpt")
                       ->check(CLI::IsMember(std::vector<std::string>{
                           bench::kLatency, bench::kShareGptSynth, bench::kShareGpt}))
                       ->capture_default_str();
  auto* dataset = cmd->add_option("--dataset", f.dataset,
                                  "ShareGPT_V3_unfiltered_cleaned_split.json (sharegpt workload)");
  auto* num_prompts =
      cmd->add_option("--num-prompts", f.num_prompts, "Requests (default: 2000; latency: 10)")
          ->check(CLI::PositiveNumber);
  cmd->add_option("--concurrency", f.concurrency, "Most requests in flight (latency: always 1)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto* seed = cmd->add_option("--seed", f.seed, "Seed of the request set and arrivals")
                   ->capture_default_str();
  cmd->add_option("--request-rate", f.request_rate,
                  "Poisson arrivals at R requests/s (default inf: all at once)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--json", f.json, "Also write the report as JSON to FILE ('-': stdout)");
  auto* dump = cmd->add_option("--dump-requests", f.dump_requests,
                               "Write the request set to FILE and exit without running it");
  auto* requests = cmd->add_option("--requests", f.requests,
                                   "Run the request set of FILE (from --dump-requests)");
  requests->excludes(dump)
      ->excludes(workload)
      ->excludes(dataset)
      ->excludes(num_prompts)
      ->excludes(seed);
  // The engine flags of `loom serve`, with its defaults, so that in-process and served runs
  // compare.
  const auto engine_flag = [&](const std::string& name, auto& value, const std::string& help) {
    return cmd->add_option(name, value, help)->excludes(server)->capture_default_str();
  };
  engine_flag("--max-batch-size", f.engine.max_batch_size, "Sequences per step")
      ->check(CLI::PositiveNumber);
  engine_flag("--max-prefill-tokens", f.engine.max_prefill_tokens, "Prompt tokens per step")
      ->check(CLI::PositiveNumber);
  engine_flag("--session-len", f.engine.session_len,
              "Longest prompt + output (0: the model's max_position_embeddings)")
      ->check(CLI::NonNegativeNumber);
  engine_flag("--block-size", f.engine.block_size, "Tokens per KV block")
      ->check(CLI::PositiveNumber);
  engine_flag("--num-blocks", f.engine.num_blocks,
              "KV blocks (0: on cuda, --cache-max-entry-count of the free GPU memory; on cpu, "
              "max_batch_size sessions of session_len)")
      ->check(CLI::NonNegativeNumber);
  engine_flag("--cache-max-entry-count", f.engine.kv_cache_free_fraction,
              "cuda, with --num-blocks 0: the share of GPU memory free after the weights for "
              "the KV pool")
      ->check(CLI::Range(0.0, 1.0));
  engine_flag("--backend", f.backend, "cpu or cuda");
  engine_flag("--dtype", f.dtype, "auto, float32 (cpu), bfloat16 or float16 (cuda)");
  engine_flag("--enable-prefix-caching", f.enable_prefix_caching, "Reuse cached prompt prefixes");
  engine_flag("--async-scheduling", f.async_scheduling,
              "Queue the next decode step before this one's tokens are read back (cuda)");
  cmd->callback([flags, &exit_code] {
    const absl::Status status =
        flags->server.empty() ? RunInProcess(*flags) : RunAgainstServer(*flags);
    if (!status.ok()) {
      std::cerr << "loom bench: " << status.message() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace loom
