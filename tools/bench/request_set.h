// A benchmark's request set: the prompts (as token ids) and how many tokens each request
// generates. Every workload produces one; `loom bench --dump-requests FILE` writes it and
// `--requests FILE` runs it again, here or through another system.
//
// The file is JSON:
//   {"workload": "sharegpt-synth", "seed": 0,
//    "requests": [{"prompt_ids": [12, 7, ...], "output_len": 183}, ...]}
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace loom::bench {

struct BenchRequest {
  std::vector<int32_t> prompt_ids;
  int output_len = 0;  // tokens to generate: EOS is ignored, generation stops here

  bool operator==(const BenchRequest&) const = default;
};

struct RequestSet {
  std::string workload;  // "latency", "sharegpt-synth" or "sharegpt"
  uint64_t seed = 0;
  std::vector<BenchRequest> requests;

  bool operator==(const RequestSet&) const = default;
};

nlohmann::json RequestSetToJson(const RequestSet& set);

// InvalidArgument naming `source` and the offending key or element: a missing or
// mistyped key, an empty request set, an empty prompt, a negative token id or an
// output_len < 1.
absl::StatusOr<RequestSet> RequestSetFromJson(const nlohmann::json& json, std::string_view source);

// Errors: Internal when `path` cannot be written.
absl::Status WriteRequestSet(const RequestSet& set, const std::filesystem::path& path);
// Errors: NotFound when `path` cannot be read; InvalidArgument for bad JSON or contents.
absl::StatusOr<RequestSet> ReadRequestSet(const std::filesystem::path& path);

}  // namespace loom::bench
