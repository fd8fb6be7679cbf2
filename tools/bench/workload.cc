#include "tools/bench/workload.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tools/bench/synthetic.h"

namespace loom::bench {

int DefaultNumPrompts(const std::string& workload) { return workload == kLatency ? 10 : 2000; }

absl::StatusOr<RequestSet> BuildRequestSet(const WorkloadOptions& options,
                                           const ModelFacts& model) {
  const SynthModelLimits limits{.prompt_id_limit = model.prompt_id_limit,
                                .excluded_ids = model.special_ids,
                                .session_len = model.session_len};
  if (options.workload == kShareGptSynth) {
    return MakeShareGptSynth(options.num_prompts, options.seed, limits);
  }
  if (options.workload == kLatency) return MakeLatency(options.num_prompts, options.seed, limits);
  if (options.workload != kShareGpt) {
    return absl::InvalidArgumentError(absl::StrCat("--workload: unknown workload '",
                                                   options.workload, "'; use ", kLatency, ", ",
                                                   kShareGptSynth, " or ", kShareGpt));
  }
  if (options.dataset.empty()) {
    return absl::InvalidArgumentError(
        "--dataset: the sharegpt workload needs ShareGPT_V3_unfiltered_cleaned_split.json");
  }
  auto pairs = ReadShareGpt(options.dataset);
  if (!pairs.ok()) return pairs.status();
  ShareGptFilter filter;
  filter.max_total_len = std::min(filter.max_total_len, model.session_len);
  auto set = SampleShareGpt(*pairs, options.num_prompts, options.seed, model.encode, filter);
  if (!set.ok()) return set.status();
  if (set->requests.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--dataset: no conversation of ", options.dataset, " passes the filter"));
  }
  return set;
}

}  // namespace loom::bench
