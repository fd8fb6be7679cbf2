#include "tools/bench/percentile.h"

#include <cmath>
#include <cstddef>

namespace loom::bench {

double Percentile(std::span<const double> sorted, double p) {
  const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lower = static_cast<size_t>(std::floor(rank));
  const size_t upper = lower + 1 < sorted.size() ? lower + 1 : lower;
  const double fraction = rank - static_cast<double>(lower);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction;
}

}  // namespace loom::bench
