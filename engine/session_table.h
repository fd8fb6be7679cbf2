// Stateful sessions (LMDeploy's interactive mode): the token history of each open
// session and, while resident, the KV blocks that hold it, kept between turns.
//
// A turn takes its session's state into a Sequence and gives it back when it ends
// (Engine). Idle sessions keep their blocks until the pool runs short; then the least
// recently used one is evicted: its blocks go back to the pool and only its tokens
// stay, so its next turn recomputes them (or takes them from the prefix cache).
//
// Thread-safety: worker-thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"

namespace loom {

struct Session {
  std::vector<int32_t> tokens;         // every token of every finished turn, in order
  std::vector<int32_t> blocks;         // resident KV blocks; empty once evicted
  std::vector<uint64_t> block_hashes;  // chained hashes of the published full blocks
  int num_computed = 0;                // leading tokens whose KV is in `blocks`
  bool busy = false;                   // a turn is in flight and holds the state
  bool end_after_turn = false;         // close when the turn in flight ends
  int64_t last_used = 0;               // LRU clock value of the last turn's end
};

class SessionTable {
 public:
  explicit SessionTable(int max_sessions) : max_sessions_(max_sessions) {}

  // The open session `id`, or nullptr.
  Session* Find(const std::string& id);
  // Opens a new, empty session. REQUIRES: `id` is not open.
  // ResourceExhausted when max_sessions are already open.
  absl::StatusOr<Session*> Open(const std::string& id);
  void Close(const std::string& id);
  // Marks `session` as just used, for LRU eviction.
  void Touch(Session& session) { session.last_used = ++clock_; }

  // The least recently used idle session that holds blocks, or nullptr.
  Session* LeastRecentlyUsedResident();

  int size() const { return static_cast<int>(sessions_.size()); }
  int max_sessions() const { return max_sessions_; }

 private:
  const int max_sessions_;
  int64_t clock_ = 0;
  absl::node_hash_map<std::string, Session> sessions_;  // stable addresses
};

}  // namespace loom
