#include "tools/bench/request_set.h"

#include <cstdint>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace loom::bench {
namespace {

absl::Status Invalid(std::string_view source, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(source), ": ", what));
}

}  // namespace

nlohmann::json RequestSetToJson(const RequestSet& set) {
  nlohmann::json requests = nlohmann::json::array();
  for (const BenchRequest& r : set.requests) {
    requests.push_back({{"prompt_ids", r.prompt_ids}, {"output_len", r.output_len}});
  }
  return {{"workload", set.workload}, {"seed", set.seed}, {"requests", std::move(requests)}};
}

absl::StatusOr<RequestSet> RequestSetFromJson(const nlohmann::json& json, std::string_view source) {
  if (!json.is_object()) return Invalid(source, "must hold a JSON object");
  RequestSet set;
  const auto workload = json.find("workload");
  if (workload == json.end() || !workload->is_string()) {
    return Invalid(source, "\"workload\" must be a string");
  }
  set.workload = workload->get<std::string>();
  const auto seed = json.find("seed");
  if (seed == json.end() || !seed->is_number_integer() ||
      (!seed->is_number_unsigned() && seed->get<int64_t>() < 0)) {
    return Invalid(source, "\"seed\" must be a non-negative integer");
  }
  set.seed = seed->get<uint64_t>();
  const auto requests = json.find("requests");
  if (requests == json.end() || !requests->is_array() || requests->empty()) {
    return Invalid(source, "\"requests\" must be a non-empty array");
  }
  for (size_t i = 0; i < requests->size(); ++i) {
    const nlohmann::json& r = (*requests)[i];
    const std::string where = absl::StrCat("requests[", i, "]");
    if (!r.is_object()) return Invalid(source, where + " must be an object");
    const auto ids = r.find("prompt_ids");
    if (ids == r.end() || !ids->is_array() || ids->empty()) {
      return Invalid(source, where + ".prompt_ids must be a non-empty array");
    }
    BenchRequest request;
    for (const nlohmann::json& id : *ids) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
        return Invalid(source, where + ".prompt_ids must hold token ids in [0, 2^31)");
      }
      request.prompt_ids.push_back(id.get<int32_t>());
    }
    const auto output_len = r.find("output_len");
    if (output_len == r.end() || !output_len->is_number_integer() ||
        output_len->get<int64_t>() < 1 || output_len->get<int64_t>() > INT32_MAX) {
      return Invalid(source, where + ".output_len must be an integer >= 1");
    }
    request.output_len = output_len->get<int>();
    set.requests.push_back(std::move(request));
  }
  return set;
}

absl::Status WriteRequestSet(const RequestSet& set, const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << RequestSetToJson(set).dump() << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

absl::StatusOr<RequestSet> ReadRequestSet(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json json =
      nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Invalid(path.string(), "is not valid JSON");
  return RequestSetFromJson(json, path.string());
}

}  // namespace loom::bench
