// Stop strings over streamed text: finds a stop string even when it spans several
// tokens' text, and never lets text that might begin one out early.
//
// Feed each new piece of decoded text to Push. It returns the text that is safe to
// stream now: everything except a trailing part that could still grow into a stop
// string. When a stop string appears, Push returns the text before it and reports the
// match; the stop string and anything after it are never returned. Of several stop
// strings, the one completed first in the text wins (then the longest), as if the text
// arrived one character at a time. At the end of a
// request that did not stop on a string, Flush returns what was held back.
//
// Pieces must be whole UTF-8 characters (the detokenizer guarantees it); then every
// returned piece is too, since each stop string starts at a character boundary.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loom {

class StopStrings {
 public:
  // Empty strings in `stops` are ignored.
  explicit StopStrings(std::vector<std::string> stops);

  struct Result {
    std::string text;                  // safe to stream now
    std::optional<std::string> match;  // the stop string found; the request ends
  };

  // REQUIRES: no earlier Push returned a match.
  Result Push(std::string_view piece);

  // The held-back text, for a request that ended for another reason.
  std::string Flush();

  bool empty() const { return stops_.empty(); }

 private:
  std::vector<std::string> stops_;
  std::string pending_;  // not yet returned: could be the start of a stop string
};

}  // namespace loom
