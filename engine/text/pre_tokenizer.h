// Pre-tokenizers: cut normalized text into the pieces ("words") that the model encodes
// independently (tokenizers' `pre_tokenizer`).
//
// Supported "type"s:
//  - Sequence;
//  - Split (String or Regex pattern, every delimiter behavior, `invert`);
//  - ByteLevel (`add_prefix_space`, `use_regex` with the GPT-2 pattern; it rewrites each
//    piece into byte-level characters);
//  - Metaspace (SentencePiece spaces: ' ' becomes `replacement`, which `prepend_scheme`
//    puts in front of every piece ("always"), of the piece at the start of the input
//    ("first") or of none ("never"); with `split`, each replacement starts a new piece);
//  - Whitespace (runs of word characters and runs of other non-spaces), WhitespaceSplit
//    (cut at whitespace), Punctuation (each punctuation character, with `behavior`),
//    Digits (runs of digits, or each digit with `individual_digits`) and
//    CharDelimiterSplit (cut at `delimiter`).
// Character classes follow Rust's, as tokenizers does: whitespace is Unicode White_Space,
// a word character is Alphabetic, a mark, a decimal digit, connector punctuation or a
// join control, punctuation is ASCII punctuation or Unicode P*, a digit is Unicode N*.
// Anything else is rejected at load time.
//
// Thread-safety: pre-tokenizers are immutable after construction.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/text/json_util.h"
#include "nlohmann/json_fwd.hpp"

namespace loom::text {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;

  // Replaces every piece of `pieces` by its sub-pieces, in order, dropping empty ones.
  // `*front_at_input_start` tells whether pieces->front() begins at the very start of the
  // input text (in tokenizers: its original offset is 0), which Metaspace's "first"
  // scheme reads; a pre-tokenizer that drops that beginning clears it.
  // REQUIRES: every piece is valid UTF-8 (pieces stay valid UTF-8).
  // Errors: ResourceExhausted when a regex hits its limits.
  virtual absl::Status PreTokenize(std::vector<std::string>* pieces,
                                   bool* front_at_input_start) const = 0;
};

// The GPT-2 split pattern that ByteLevel applies when `use_regex` is true.
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Where Metaspace puts its replacement character in front of text (tokenizers'
// PrependScheme).
enum class PrependScheme {
  kAlways,  // in front of every piece that does not start with it
  kFirst,   // only in front of the piece at the start of the input
  kNever,
};

// The settings shared by the Metaspace pre-tokenizer and decoder.
struct MetaspaceConfig {
  std::string replacement;  // exactly one character, UTF-8 encoded
  PrependScheme prepend_scheme = PrependScheme::kAlways;
  bool split = true;
};

// Parses a Metaspace object at `where`: `replacement` (one character), `prepend_scheme`
// ("always" by default, "first", "never"), `split` (true by default). The legacy
// `add_prefix_space` is honored as tokenizers does: true is the default scheme, false
// means "never" (an explicit prepend_scheme other than "never" then is an error).
absl::StatusOr<MetaspaceConfig> MetaspaceConfigFromJson(const nlohmann::json& config,
                                                        const JsonLocation& where);

// Builds the pre-tokenizer that the JSON object `config` (at `where`) describes.
// REQUIRES: config is not JSON null (a null pre-tokenizer is simply absent).
absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizerFromJson(const nlohmann::json& config,
                                                                   const JsonLocation& where);

}  // namespace loom::text
