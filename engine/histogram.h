// Observations counted into fixed buckets, the data of a Prometheus histogram without any
// Prometheus type (server/ exports it). The bucket bounds follow vLLM's metrics, with
// finer low buckets where a GPU step takes milliseconds, so dashboards compare.
//
// Copying one allocates nothing (the engine publishes a snapshot every step): the bounds
// are borrowed from static storage and the counts live inline.
//
// Thread-safety: none; the engine worker owns the live copy and publishes snapshots.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace loom {

class Histogram {
 public:
  // The most bounds a histogram may have.
  static constexpr size_t kMaxBounds = 31;

  // `bounds`: the buckets' upper bounds, strictly increasing, at most kMaxBounds of them,
  // in storage that outlives the histogram; +Inf is implicit.
  explicit Histogram(std::span<const double> bounds);

  void Observe(double value);

  std::span<const double> bounds() const { return bounds_; }
  // counts()[i]: observations <= bounds()[i] and above the bound before (the last entry
  // is the +Inf bucket). Not cumulative.
  std::span<const uint64_t> counts() const {
    return std::span<const uint64_t>(counts_).first(bounds_.size() + 1);
  }
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::span<const double> bounds_;
  std::array<uint64_t, kMaxBounds + 1> counts_{};
  uint64_t count_ = 0;
  double sum_ = 0.0;
};

// Bucket bounds of the engine's histograms.
std::span<const double> TimeToFirstTokenBuckets();   // seconds
std::span<const double> InterTokenLatencyBuckets();  // seconds
std::span<const double> RequestLatencyBuckets();     // seconds: end to end, queue time
std::span<const double> BatchSizeBuckets();          // sequences per step

}  // namespace loom
