// Python's json.dumps() on template values: what transformers' `tojson` filter returns.
//
// transformers replaces jinja2's tojson (which HTML-escapes <, >, &, ') with
// `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`,
// so the output here is json.dumps's byte for byte: ", " and ": " separators (", " turns
// into "," when indenting), floats as Python's repr, NaN/Infinity, and only the
// characters JSON requires escaped (plus all non-ASCII with ensure_ascii).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "engine/text/jinja/value.h"

namespace loom::jinja {

struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;          // unset: one line; else the per-level indent string
  std::optional<std::string> item_separator;  // unset: "," with indent, else ", "
  std::string key_separator = ": ";
  bool sort_keys = false;
  size_t max_bytes = SIZE_MAX;  // ResourceExhausted once the text grows past this
};

// Errors: InvalidArgument "Object of type Undefined is not JSON serializable" for values
// JSON cannot hold (Undefined, namespaces, loop contexts, callables); ResourceExhausted
// past options.max_bytes.
absl::StatusOr<std::string> DumpJson(const Value& value, const JsonDumpOptions& options);

}  // namespace loom::jinja
