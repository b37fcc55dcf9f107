// Reproducible random streams for the data pipeline. Samplers and random transforms never draw from a shared,
// stateful generator: each derives a fresh std::mt19937_64 from (its seed, the epoch, the sample index, ...)
// with derive_seed, so that what a sample gets depends only on those numbers — not on how many worker threads
// the DataLoader runs or in which order they reach the sample — while every epoch still sees new draws.
//
// std::mt19937_64 is specified bit for bit by the C++ standard, and the two draws below are written out here
// (rather than taken from <random>'s distributions, whose algorithms are left to each standard library), so the
// same seed gives the same permutations and augmentations with any compiler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <random>

namespace tandem::nn::data {

/// The SplitMix64 finaliser: a bijective scramble of 64 bits in which every input bit affects every output bit.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// A seed for the stream identified by `seed` and the words `parts` (epoch, sample index, ...). Different parts
/// give unrelated streams; the order of the parts matters.
inline uint64_t derive_seed(uint64_t seed, std::initializer_list<uint64_t> parts) {
  uint64_t h = splitmix64(seed);
  for (uint64_t p : parts) h = splitmix64(h ^ splitmix64(p + 0x632BE59BD9B4E019ull));
  return h;
}

/// Uniform integer in [0, n) for n > 0, without modulo bias (rejection of the incomplete top range).
inline uint64_t uniform_index(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // largest multiple of n, as an exclusive bound
  uint64_t r;
  do {
    r = rng();
  } while (r >= limit);
  return r % n;
}

/// Uniform double in [0, 1) from the top 53 bits of one draw.
inline double uniform_real(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace tandem::nn::data
