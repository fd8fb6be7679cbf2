// Strict reading of one mapping of a configuration file (server.yaml, models/*.yaml).
//
// A misspelt key must not silently fall back to a default, so the reader rejects what it
// does not know. Every error is InvalidArgument and reads "FILE:LINE:COLUMN: message"
// (1-based, like a compiler's; engine/chat/yaml_fields.h), naming the key by its dotted
// path ("tls.cert", "sampling.top_p"):
//   - the node is not a mapping (null, an empty document, counts as an empty mapping);
//   - a key is not a string, is repeated, or is not one of the valid keys (the nearest
//     valid key is suggested, else the valid keys are listed);
//   - a value has the wrong type: quoted scalars are strings, so `port: "80"` is not an
//     integer; booleans are true/false only (not yes/no/on/off);
//   - a value is out of range (checked by the callers through Error()).
//
// Thread-safety: immutable after Read(); holds YAML::Node handles into the document.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "yaml-cpp/yaml.h"

namespace loom {

// Where each configuration value came from, by dotted key: "FILE:LINE:COLUMN" for a YAML
// value, "--flag" for a command-line one. Absent keys hold built-in defaults.
using ConfigOrigins = std::map<std::string, std::string, std::less<>>;

class YamlMapReader {
 public:
  // Reads the keys of `node`. `file` starts every message; `prefix` is the dotted path
  // of the mapping ("" at the top level, "tls", "sampling"); `keys` are the valid keys.
  // Errors: as in the file comment.
  static absl::StatusOr<YamlMapReader> Read(const YAML::Node& node, std::string_view file,
                                            std::string_view prefix,
                                            std::span<const std::string_view> keys);

  bool Has(std::string_view key) const;
  // The value of `key`; an undefined node when the key is absent.
  YAML::Node Value(std::string_view key) const;
  // The dotted name of `key`: "tls.cert".
  std::string Name(std::string_view key) const;
  // "FILE:LINE:COLUMN" of the value of `key` (of the key itself where the value has no
  // position, e.g. an empty value), or of the whole mapping when `key` is absent.
  std::string Where(std::string_view key) const;
  // InvalidArgument "Where(key): message".
  absl::Status Error(std::string_view key, std::string_view message) const;
  // Adds Where(key) under Name(key) for every key present.
  void RecordOrigins(ConfigOrigins& origins) const;

  // Typed values. REQUIRES: Has(key). Errors: the wrong type, naming the key and what the
  // value is instead.
  absl::StatusOr<int64_t> Int(std::string_view key) const;
  absl::StatusOr<double> Number(std::string_view key) const;  // finite; integers too
  absl::StatusOr<bool> Bool(std::string_view key) const;
  absl::StatusOr<std::string> String(std::string_view key) const;  // any scalar, as written
  absl::StatusOr<std::vector<std::string>> StringList(std::string_view key) const;
  absl::StatusOr<std::vector<int64_t>> IntList(std::string_view key) const;

  // When `key` is present: reads an integer in [min, max] into `out`. Absent: leaves
  // `out` as it is.
  template <typename T>
  absl::Status ReadInt(std::string_view key, int64_t min, int64_t max, T& out) const {
    if (!Has(key)) return absl::OkStatus();
    absl::StatusOr<int64_t> value = Int(key);
    if (!value.ok()) return value.status();
    if (*value < min || *value > max) return RangeError(key, min, max, *value);
    out = static_cast<T>(*value);
    return absl::OkStatus();
  }
  absl::Status ReadBool(std::string_view key, bool& out) const;
  // A non-empty string.
  absl::Status ReadString(std::string_view key, std::string& out) const;

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
  };

  YamlMapReader(std::string file, std::string prefix, YAML::Node node)
      : file_(std::move(file)), prefix_(std::move(prefix)), node_(std::move(node)) {}
  const Entry* Find(std::string_view key) const;
  absl::Status RangeError(std::string_view key, int64_t min, int64_t max, int64_t value) const;
  // "must be TYPE, not WHAT" for the value of `key` (or of one of its list items).
  absl::Status TypeError(std::string_view key, const YAML::Node& value,
                         std::string_view type) const;

  std::string file_;
  std::string prefix_;
  YAML::Node node_;
  std::vector<Entry> entries_;
};

// Loads the YAML document in `file`. Errors: NotFound for a file that cannot be read;
// InvalidArgument "FILE:LINE:COLUMN: message" for a syntax error.
absl::StatusOr<YAML::Node> LoadYamlFile(const std::string& file);

}  // namespace loom
