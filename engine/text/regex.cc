#include "engine/text/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "engine/text/string_view_compat.h"
#include "engine/text/utf8.h"

namespace loom::text {
namespace {

std::string Pcre2ErrorMessage(int error_code) {
  std::string buffer(256, '\0');
  const int length = pcre2_get_error_message(
      error_code, reinterpret_cast<PCRE2_UCHAR*>(buffer.data()), buffer.size());
  if (length < 0) return absl::StrCat("PCRE2 error ", error_code);
  buffer.resize(static_cast<size_t>(length));
  return buffer;
}

// The JIT's default 32 KiB stack is enough for tokenizer patterns on ordinary text; a
// retry with a larger one covers pathological inputs.
constexpr size_t kLargeJitStackBytes = 8 << 20;

struct MatchDataDeleter {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};
struct MatchContextDeleter {
  void operator()(pcre2_match_context* context) const { pcre2_match_context_free(context); }
};
struct JitStackDeleter {
  void operator()(pcre2_jit_stack* stack) const { pcre2_jit_stack_free(stack); }
};

}  // namespace

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

absl::StatusOr<Regex> Regex::Compile(std::string_view pattern) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("regex \"", ToAbsl(pattern),
                                                   "\" does not compile at ", error_offset, ": ",
                                                   Pcre2ErrorMessage(error_code)));
  }
  auto owned = std::make_shared<Code>();
  owned->code = code;
  // Without JIT support (or memory for it) pcre2_match falls back to the interpreter.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return Regex(std::string(pattern), std::move(owned));
}

absl::Status Regex::FindAll(std::string_view text, std::vector<ByteRange>* matches) const {
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> data(
      pcre2_match_data_create_from_pattern(code_->code, nullptr));
  if (data == nullptr) return absl::ResourceExhaustedError("out of memory for regex match data");
  std::unique_ptr<pcre2_match_context, MatchContextDeleter> context;
  std::unique_ptr<pcre2_jit_stack, JitStackDeleter> jit_stack;

  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t search_from = 0;
  std::optional<size_t> last_match_end;
  while (search_from <= text.size()) {
    int rc = pcre2_match(code_->code, subject, text.size(), search_from, PCRE2_NO_UTF_CHECK,
                         data.get(), context.get());
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && jit_stack == nullptr) {
      context.reset(pcre2_match_context_create(nullptr));
      jit_stack.reset(pcre2_jit_stack_create(32 << 10, kLargeJitStackBytes, nullptr));
      if (context == nullptr || jit_stack == nullptr) {
        return absl::ResourceExhaustedError("out of memory for the regex JIT stack");
      }
      pcre2_jit_stack_assign(context.get(), nullptr, jit_stack.get());
      continue;
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "regex \"", pattern_, "\" failed on ", text.size(), " bytes: ", Pcre2ErrorMessage(rc)));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data.get());
    const size_t begin = ovector[0];
    const size_t end = ovector[1];
    if (begin == end && last_match_end == end) {
      // Step over one character so that the search makes progress.
      if (search_from >= text.size()) break;
      const size_t length = Utf8SequenceLength(text, search_from);
      search_from += length == 0 ? 1 : length;
      continue;
    }
    matches->push_back({begin, end});
    search_from = end;
    last_match_end = end;
  }
  return absl::OkStatus();
}

}  // namespace loom::text
