// An iterator over JSON text for nlohmann's parser.
//
// Being a type of this library, it gives the parser (a header-only template) an
// instantiation of its own, compiled with this library's optimization flags (see
// CMakeLists.txt). Parsing std::string input would share that instantiation with other
// translation units, and the linker may keep an unoptimized copy from any of them.
#pragma once

#include <cstddef>
#include <iterator>

namespace loom::text {

class JsonTextIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  explicit JsonTextIterator(const char* position) : position_(position) {}
  reference operator*() const { return *position_; }
  JsonTextIterator& operator++() {
    ++position_;
    return *this;
  }
  JsonTextIterator operator++(int) {
    JsonTextIterator before = *this;
    ++position_;
    return before;
  }
  friend bool operator==(const JsonTextIterator&, const JsonTextIterator&) = default;

 private:
  const char* position_;
};

}  // namespace loom::text
