#include "engine/histogram.h"

#include <algorithm>
#include <array>

#include "kernels/check.h"

namespace loom {

Histogram::Histogram(std::span<const double> bounds) : bounds_(bounds) {
  LOOM_CHECK(bounds_.size() <= kMaxBounds) << "too many histogram bounds";
  LOOM_CHECK(std::is_sorted(bounds_.begin(), bounds_.end()) &&
             std::adjacent_find(bounds_.begin(), bounds_.end()) == bounds_.end())
      << "histogram bounds must increase strictly";
}

void Histogram::Observe(double value) {
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  ++counts_[bucket];
  ++count_;
  sum_ += value;
}

std::span<const double> TimeToFirstTokenBuckets() {
  static constexpr std::array kBounds = {0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
                                         0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
                                         20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
  return kBounds;
}

std::span<const double> InterTokenLatencyBuckets() {
  static constexpr std::array kBounds = {0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,
                                         0.15,  0.2,   0.3,  0.4,   0.5,  0.75,  1.0,
                                         2.5,   5.0,   7.5,  10.0,  20.0, 40.0,  80.0};
  return kBounds;
}

std::span<const double> RequestLatencyBuckets() {
  static constexpr std::array kBounds = {0.01, 0.05, 0.1,   0.3,   0.5,   0.8,   1.0,    1.5,
                                         2.0,  2.5,  5.0,   10.0,  15.0,  20.0,  30.0,   40.0,
                                         50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
  return kBounds;
}

std::span<const double> BatchSizeBuckets() {
  static constexpr std::array kBounds = {1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0};
  return kBounds;
}

}  // namespace loom
