// Percentiles as numpy.percentile computes them by default (the "linear" method), which
// is what LMDeploy's profile_throughput reports: the value at rank p/100 * (n - 1) of the
// sorted samples, interpolated linearly between the two nearest ranks.
#pragma once

#include <span>

namespace loom::bench {

// REQUIRES: `sorted` is non-empty and ascending; 0 <= p <= 100.
double Percentile(std::span<const double> sorted, double p);

}  // namespace loom::bench
