// Fatal checks for broken internal invariants.
//
// A failed LOOM_CHECK means a bug in loom, never bad input: bad input is reported with
// absl::Status at the boundary that received it (DESIGN.md, "Errors"). The message names
// the condition, the source location and any context streamed into the macro:
//
//   LOOM_CHECK(block < num_blocks_) << "block " << block << " of " << num_blocks_;
#pragma once

#include <cstdlib>
#include <iostream>
#include <sstream>

namespace loom::internal {

// Collects the streamed context and aborts in its destructor.
class CheckFailure {
 public:
  CheckFailure(const char* condition, const char* file, int line) {
    stream_ << file << ":" << line << ": LOOM_CHECK failed: " << condition << " ";
  }
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  [[noreturn]] ~CheckFailure() {
    std::cerr << stream_.str() << std::endl;
    std::abort();
  }
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Lets `LOOM_CHECK(c) << ...` be a single expression of type void.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace loom::internal

#define LOOM_CHECK(condition)                 \
  (condition) ? static_cast<void>(0)          \
              : ::loom::internal::Voidify() & \
                    ::loom::internal::CheckFailure(#condition, __FILE__, __LINE__).stream()

#define LOOM_CHECK_OK(status_expr)                                            \
  do {                                                                        \
    const auto& loom_check_ok_status = (status_expr);                         \
    LOOM_CHECK(loom_check_ok_status.ok()) << loom_check_ok_status.ToString(); \
  } while (false)
