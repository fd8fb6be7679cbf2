// Small helpers for strict YAML readers: where a node is, what it is, and which valid
// key a misspelt one was probably meant to be. Errors of the readers read
// "FILE:LINE:COLUMN: message", 1-based, like a compiler's.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace YAML {
class Node;
}  // namespace YAML

namespace loom::yaml {

// "FILE:LINE:COLUMN" of `node` (yaml-cpp's 0-based mark, printed 1-based), or "FILE" when
// yaml-cpp recorded no position for it.
std::string Location(std::string_view file, const YAML::Node& node);

// The kind of `node` in words, for "must be X, not Y" messages: "a mapping", "a list",
// "a string", "null" or "nothing".
std::string_view Describe(const YAML::Node& node);

// The number of single-character insertions, deletions and substitutions that turn `a`
// into `b` (Levenshtein), over bytes.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate nearest to `word` when it is near enough to be a likely typo (at most
// max(2, |word| / 3) edits; the first of equally near ones), else nullopt.
std::optional<std::string_view> ClosestName(std::string_view word,
                                            std::span<const std::string_view> candidates);

}  // namespace loom::yaml
