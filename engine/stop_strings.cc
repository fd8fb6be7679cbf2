#include "engine/stop_strings.h"

#include <algorithm>

#include "kernels/check.h"

namespace loom {

StopStrings::StopStrings(std::vector<std::string> stops) {
  for (auto& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

StopStrings::Result StopStrings::Push(std::string_view piece) {
  Result result;
  if (stops_.empty()) {
    result.text = std::string(piece);
    return result;
  }
  pending_.append(piece);

  // The stop string that is complete first wins: the earliest end, then the longest.
  // That is what a character-by-character stream would find, so the result does not
  // depend on how the text was cut into pieces.
  size_t best_end = std::string::npos;
  const std::string* best_stop = nullptr;
  for (const std::string& stop : stops_) {
    const size_t at = pending_.find(stop);
    if (at == std::string::npos) continue;
    const size_t end = at + stop.size();
    if (end < best_end || (end == best_end && stop.size() > best_stop->size())) {
      best_end = end;
      best_stop = &stop;
    }
  }
  if (best_stop != nullptr) {
    result.text = pending_.substr(0, best_end - best_stop->size());
    result.match = *best_stop;
    pending_.clear();
    return result;
  }

  // Hold back the longest suffix that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& stop : stops_) {
    const size_t longest = std::min(stop.size() - 1, pending_.size());
    for (size_t k = longest; k > hold; --k) {
      if (std::string_view(pending_).substr(pending_.size() - k) ==
          std::string_view(stop).substr(0, k)) {
        hold = k;
        break;
      }
    }
  }
  result.text = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return result;
}

std::string StopStrings::Flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace loom
