// A fresh directory for one test's files, removed with everything in it on destruction.
#pragma once

#include <filesystem>

namespace loom::testing {

class ScopedTempDir {
 public:
  // Creates <::testing::TempDir()>/loom_<test name>_<pid>_<n>.
  ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  ~ScopedTempDir();

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace loom::testing
