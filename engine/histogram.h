// Observations counted into fixed buckets, the data of a Prometheus histogram without any
// Prometheus type (server/ exports it). The bucket bounds follow vLLM's metrics, with
// finer low buckets where a GPU step takes milliseconds, so dashboards compare.
//
// Thread-safety: none; the engine worker owns the live copy and publishes snapshots.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace loom {

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, strictly increasing; +Inf is implicit.
  explicit Histogram(std::span<const double> bounds);

  void Observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // counts()[i]: observations <= bounds()[i] and above the bound before (the last entry
  // is the +Inf bucket). Not cumulative.
  const std::vector<uint64_t>& counts() const { return counts_; }
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0.0;
};

// Bucket bounds of the engine's histograms.
std::span<const double> TimeToFirstTokenBuckets();   // seconds
std::span<const double> InterTokenLatencyBuckets();  // seconds
std::span<const double> RequestLatencyBuckets();     // seconds: end to end, queue time
std::span<const double> BatchSizeBuckets();          // sequences per step

}  // namespace loom
