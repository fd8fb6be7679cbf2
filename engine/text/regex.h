// A compiled regular expression, backed by PCRE2 in UTF + UCP mode (so \s, \w, \d and
// [[:classes:]] follow Unicode properties) and JIT-compiled when the library can.
//
// Hugging Face tokenizers compiles its patterns with Oniguruma; PCRE2 agrees with it on
// the constructs that tokenizer.json files use (\p{L}, \p{N}, \s, (?i:...), lookahead),
// with one known difference: PCRE2's \s also matches U+180E MONGOLIAN VOWEL SEPARATOR,
// which is no longer White_Space in Unicode.
//
// Thread-safety: immutable after Compile(); FindAll() may run concurrently.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace loom::text {

// A byte range [begin, end) of the subject.
struct ByteRange {
  size_t begin = 0;
  size_t end = 0;
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

class Regex {
 public:
  // InvalidArgument with PCRE2's message and offset when `pattern` does not compile.
  static absl::StatusOr<Regex> Compile(std::string_view pattern);

  // Appends the non-overlapping matches in `text`, left to right. As Oniguruma's iterator
  // does, an empty match that ends where the previous match ended is skipped.
  // REQUIRES: `text` is valid UTF-8.
  // Errors: ResourceExhausted when PCRE2 runs out of its match or stack limits.
  absl::Status FindAll(std::string_view text, std::vector<ByteRange>* matches) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;  // owns the pcre2_code
  Regex(std::string pattern, std::shared_ptr<const Code> code)
      : pattern_(std::move(pattern)), code_(std::move(code)) {}

  std::string pattern_;
  std::shared_ptr<const Code> code_;
};

}  // namespace loom::text
