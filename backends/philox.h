// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a counter-based
// generator. Output block j of stream (seed, offset) is philox(counter = offset + j, key = seed), four 32-bit
// words, computed independently of every other block — so the CPU and a GPU produce the same numbers for the
// same seed however the work is split between threads.
//
// Layout used by every backend's random kernel, for element i of a contiguous output:
//   float32: block i/4, word i%4 -> uniform (w >> 8) * 2^-24 in [0, 1)
//   float64: block i/2, words 2(i%2), 2(i%2)+1 -> uniform of 53 bits in [0, 1)
//   normal : Box-Muller on the pair of uniforms (u1, u2) of elements (2k, 2k+1); element 2k gets the cosine
//            branch, 2k+1 the sine branch.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define TD_HOST_DEVICE __host__ __device__ inline
#else
#define TD_HOST_DEVICE inline
#endif

namespace tandem {

struct Philox4 {
  uint32_t v[4];
};

TD_HOST_DEVICE uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

/// The 4 words of block `counter` of the stream keyed by `seed`.
TD_HOST_DEVICE Philox4 philox4x32_10(uint64_t counter, uint64_t seed) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = philox_mulhilo(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = philox_mulhilo(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

/// Uniform float in [0, 1) from 24 random bits.
TD_HOST_DEVICE float philox_uniform_float(uint32_t w) { return static_cast<float>(w >> 8) * (1.0f / 16777216.0f); }
/// Uniform double in [0, 1) from 53 random bits.
TD_HOST_DEVICE double philox_uniform_double(uint32_t hi, uint32_t lo) {
  uint64_t bits = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
  return static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/// How many counter blocks a random fill of n elements of the given width (4 or 8 bytes) consumes.
TD_HOST_DEVICE uint64_t philox_blocks(uint64_t n, unsigned element_bytes) {
  return element_bytes == 4 ? (n + 3) / 4 : (n + 1) / 2;
}

}  // namespace tandem
