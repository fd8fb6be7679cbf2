#include "tools/bench/sharegpt.h"

#include <algorithm>
#include <fstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tools/bench/random.h"

namespace loom::bench {
namespace {

using Json = nlohmann::json;

// Keeps the "value" of the first two turns of each conversation and nothing else.
// Depths: 0 the top-level array, 1 a conversation object, 2 its "conversations" array,
// 3 a turn object.
class ShareGptSax : public nlohmann::json_sax<Json> {
 public:
  std::vector<ShareGptPair>& pairs() { return pairs_; }
  const std::string& error() const { return error_; }

  bool null() override { return Scalar(); }
  bool boolean(bool) override { return Scalar(); }
  bool number_integer(number_integer_t) override { return Scalar(); }
  bool number_unsigned(number_unsigned_t) override { return Scalar(); }
  bool number_float(number_float_t, const string_t&) override { return Scalar(); }
  bool binary(binary_t&) override { return Scalar(); }
  bool string(string_t& value) override {
    if (!Scalar()) return false;
    if (InTurn() && levels_[3].key == "value" && num_turns_ <= 2) turn_value_ = std::move(value);
    return true;
  }

  bool start_object(std::size_t) override {
    if (levels_.empty()) return Fail("must hold a JSON array of conversations");
    if (levels_.size() == 1) {
      turns_.clear();
      num_turns_ = 0;
    } else if (InTurnList()) {
      ++num_turns_;
      turn_value_.clear();
    }
    levels_.push_back({.object = true});
    return true;
  }
  bool key(string_t& name) override {
    levels_.back().key = name;
    return true;
  }
  bool end_object() override {
    levels_.pop_back();
    if (InTurnList() && num_turns_ <= 2) {
      turns_.push_back(std::move(turn_value_));
    } else if (levels_.size() == 1 && turns_.size() == 2) {
      pairs_.push_back({.prompt = std::move(turns_[0]), .reply = std::move(turns_[1])});
    }
    return true;
  }
  bool start_array(std::size_t) override {
    if (levels_.size() == 1) return Fail("each element must be a conversation object");
    levels_.push_back({.object = false});
    return true;
  }
  bool end_array() override {
    levels_.pop_back();
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    return Fail(absl::StrCat("is not valid JSON: ", e.what()));
  }

 private:
  struct Level {
    bool object = false;
    std::string key;  // the object's last key
  };

  // Whether levels_ is [array, conversation, "conversations" array].
  bool InTurnList() const {
    return levels_.size() == 3 && levels_[1].key == "conversations" && !levels_[2].object;
  }
  bool InTurn() const {
    return levels_.size() == 4 && levels_[1].key == "conversations" && !levels_[2].object &&
           levels_[3].object;
  }
  bool Scalar() {
    if (levels_.empty()) return Fail("must hold a JSON array of conversations");
    if (levels_.size() == 1) return Fail("each element must be a conversation object");
    return true;
  }
  bool Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  std::vector<Level> levels_;
  std::vector<std::string> turns_;  // the current conversation's first turns
  int num_turns_ = 0;               // turns started in the current conversation
  std::string turn_value_;
  std::vector<ShareGptPair> pairs_;
  std::string error_;
};

}  // namespace

absl::StatusOr<std::vector<ShareGptPair>> ReadShareGpt(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("--dataset: cannot read ", path.string()));
  ShareGptSax sax;
  const bool ok = Json::sax_parse(in, &sax);
  if (!ok || !sax.error().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--dataset: ", path.string(), " ",
                     sax.error().empty() ? "is not a ShareGPT file" : sax.error()));
  }
  return std::move(sax.pairs());
}

absl::StatusOr<RequestSet> SampleShareGpt(const std::vector<ShareGptPair>& pairs, int num_prompts,
                                          uint64_t seed, const EncodeFn& encode,
                                          const ShareGptFilter& filter) {
  if (num_prompts < 1) return absl::InvalidArgumentError("--num-prompts must be >= 1");
  // Fisher–Yates with BenchRandom: std::shuffle's draws are implementation-defined.
  std::vector<size_t> order(pairs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  BenchRandom rng(seed);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);

  RequestSet set{.workload = "sharegpt", .seed = seed};
  for (size_t index : order) {
    if (static_cast<int>(set.requests.size()) == num_prompts) break;
    auto prompt = encode(pairs[index].prompt, /*special=*/true);
    if (!prompt.ok()) return prompt.status();
    auto reply = encode(pairs[index].reply, /*special=*/false);
    if (!reply.ok()) return reply.status();
    const int prompt_len = static_cast<int>(prompt->size());
    const int output_len = static_cast<int>(reply->size());
    if (prompt_len < filter.min_len || output_len < filter.min_len) continue;
    if (prompt_len > filter.max_prompt_len || prompt_len + output_len > filter.max_total_len) {
      continue;
    }
    set.requests.push_back({.prompt_ids = *std::move(prompt), .output_len = output_len});
  }
  return set;
}

}  // namespace loom::bench
