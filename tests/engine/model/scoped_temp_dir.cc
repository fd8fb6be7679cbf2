#include "tests/engine/model/scoped_temp_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <system_error>

namespace loom::testing {

ScopedTempDir::ScopedTempDir() {
  static std::atomic<int> counter{0};
  std::string name = "loom";
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    name += std::string("_") + info->test_suite_name() + "_" + info->name();
  }
  for (char& c : name) {
    if (c == '/') c = '_';  // parameterized test names
  }
  name += "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  path_ = std::filesystem::path(::testing::TempDir()) / name;
  std::error_code error;
  std::filesystem::remove_all(path_, error);
  std::filesystem::create_directories(path_, error);
  if (error) ADD_FAILURE() << "cannot create " << path_ << ": " << error.message();
}

ScopedTempDir::~ScopedTempDir() {
  std::error_code error;
  std::filesystem::remove_all(path_, error);
}

}  // namespace loom::testing
