#include "tools/bench/random.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace loom::bench {

double BenchRandom::Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

uint64_t BenchRandom::Below(uint64_t n) {
  // The product rounds to nearest, so it can reach n itself when n is large.
  return std::min(n - 1, static_cast<uint64_t>(Uniform() * static_cast<double>(n)));
}

double BenchRandom::Normal() {
  const double u1 = 1.0 - Uniform();  // (0, 1]: log(u1) is finite
  const double u2 = Uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

double BenchRandom::Lognormal(double mu, double sigma) { return std::exp(mu + sigma * Normal()); }

double BenchRandom::Exponential(double rate) { return -std::log(1.0 - Uniform()) / rate; }

}  // namespace loom::bench
