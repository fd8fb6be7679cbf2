// Seeded random numbers that are the same on every machine.
//
// The standard's engines (std::mt19937_64) are specified bit for bit, but its
// distributions (uniform_int, normal, lognormal, exponential) are
// implementation-defined: libstdc++ and libc++ draw different numbers from the same
// engine. A benchmark's request set must not depend on the standard library, so the
// distributions here are written out. The only platform dependence left is libm's
// exp/log/cos/sqrt, which may differ in the last bit; that moves a rounded length only
// when it lands within an ulp of a .5 boundary.
//
// Thread-safety: none; one instance per thread.
#pragma once

#include <cstdint>
#include <random>

namespace loom::bench {

class BenchRandom {
 public:
  explicit BenchRandom(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1), from the top 53 bits of one draw.
  double Uniform();
  // Uniform in [0, n): floor(Uniform() * n), from one draw. REQUIRES: 0 < n <= 2^53.
  uint64_t Below(uint64_t n);
  // Standard normal, by Box–Muller (the cosine branch) from two draws.
  double Normal();
  // exp(mu + sigma * Normal()).
  double Lognormal(double mu, double sigma);
  // Exponential with `rate` (mean 1 / rate), by inversion of one draw. REQUIRES: rate > 0.
  double Exponential(double rate);

 private:
  std::mt19937_64 engine_;
};

}  // namespace loom::bench
