#include "engine/session_table.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kernels/check.h"

namespace loom {

Session* SessionTable::Find(const std::string& id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second;
}

absl::StatusOr<Session*> SessionTable::Open(const std::string& id) {
  if (size() >= max_sessions_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("session_id: ", max_sessions_,
                     " sessions are open (max_sessions); end one with end_session"));
  }
  auto [it, inserted] = sessions_.try_emplace(id);
  LOOM_CHECK(inserted) << "session already open";
  Touch(it->second);
  return &it->second;
}

void SessionTable::Close(const std::string& id) { sessions_.erase(id); }

Session* SessionTable::LeastRecentlyUsedResident() {
  Session* oldest = nullptr;
  for (auto& [id, session] : sessions_) {
    if (session.busy || session.blocks.empty()) continue;
    if (oldest == nullptr || session.last_used < oldest->last_used) oldest = &session;
  }
  return oldest;
}

}  // namespace loom
