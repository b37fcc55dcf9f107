// CPU element-wise kernels: fill, copy (with dtype conversion), unary and binary functions, where.
//
// How they are made fast:
//  - Operands are walked by for_each_row (backends/cpu/loops.h), which drops size-1 dims and merges dims that
//    are contiguous for every operand, so most calls become one long row. Each row has fast paths (all
//    contiguous, in place, one operand broadcast as a scalar) written as plain loops over typed pointers that
//    the compiler vectorises, and a strided fallback.
//  - libm calls keep a loop scalar, so float32 exp, tanh, sigmoid, silu, gelu (both forms) and erf use the
//    branch-free polynomial approximations of `fmath` below, which vectorise on every x86-64 target (selects
//    are bit-mask blends rather than `?:`, which GCC does not if-convert without AVX-512 masking). Their
//    maximum errors against a double-precision reference, measured over a sweep of float32 inputs
//    (tests/backends/test_elementwise_kernels.cpp checks them): exp 0.98 ulp (subnormal results included),
//    tanh 1.3, sigmoid 2.3, erf 2.7, silu 3.1, gelu 5.9 and gelu-tanh 4.0 ulp. silu and the gelus hold this
//    for results of magnitude >= 1e-30: further out an intermediate exponential is subnormal and loses bits.
//    float64 keeps libm.
//  - sqrt has no libm-free vectorisable spelling while errno is on (the compiler keeps a call for negative
//    inputs), so its contiguous rows use AVX intrinsics where the target has them (same correctly-rounded
//    results).
//  - Threads only above a grain that depends on what one element costs: memory-bound ops split later than
//    the compute-bound transcendental ones.
//  - A 2-D problem in which an input is transposed relative to the output is walked in tiles, each copied
//    through a small contiguous buffer, so that reads stay sequential and the rows still vectorise.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/loops.h"

namespace tandem::cpu {
namespace {

// =============================================================================================================
// float32 math that vectorises
// =============================================================================================================
// Every function here is forced inline, and the row loops of map1/map2 are flattened (everything they call is
// inlined into them): called through a function, none of the loops would vectorise, and GCC's heuristics
// decline to inline the larger ones across the many kernel instantiations.
#if defined(__GNUC__)
#define TD_ALWAYS_INLINE inline __attribute__((always_inline))
#define TD_FLATTEN __attribute__((flatten))
#else
#define TD_ALWAYS_INLINE inline
#define TD_FLATTEN
#endif

namespace fmath {

TD_ALWAYS_INLINE float mul_add(float a, float b, float c) {
#if defined(__FMA__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

template <typename To, typename From>
TD_ALWAYS_INLINE To bits(From v) {
  return std::bit_cast<To>(v);
}

/// c ? a : b as a bit mask blend, so that loops stay branch-free (and vectorise) on every target.
TD_ALWAYS_INLINE float select(bool c, float a, float b) {
  const uint32_t m = -static_cast<uint32_t>(c);
  return bits<float>((bits<uint32_t>(a) & m) | (bits<uint32_t>(b) & ~m));
}

/// 2^n for n in [-126, 127], built from its exponent bits.
TD_ALWAYS_INLINE float pow2(int32_t n) { return bits<float>((n + 127) << 23); }

/// e^x: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two so that n ln2 is exact), e^r by a degree-7
/// polynomial (1 + r + r^2 P(r)), then the scaling by 2^n done in two halves so that subnormal results keep
/// their precision. Overflows to +inf above ~88.72, underflows to 0 below ~-103.97; NaN stays NaN.
TD_ALWAYS_INLINE float exp(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;         // 9 significant bits: n * kLn2Hi is exact
  constexpr float kLn2Lo = -2.12194440054690583e-4f;
  constexpr float kRound = 12582912.0f;          // 1.5 * 2^23: adding it rounds to an integer
  const float xc = select(x < -104.0f, -104.0f, select(x > 89.0f, 89.0f, x));
  const float k = mul_add(xc, kLog2e, kRound);
  const float n = k - kRound;
  const int32_t ni = bits<int32_t>(k) - bits<int32_t>(kRound);
  float r = mul_add(n, -kLn2Hi, xc);
  r = mul_add(n, -kLn2Lo, r);
  float p = 1.989098087e-04f;
  p = mul_add(p, r, 1.393364103e-03f);
  p = mul_add(p, r, 8.333310934e-03f);
  p = mul_add(p, r, 4.166646501e-02f);
  p = mul_add(p, r, 1.666666668e-01f);
  p = mul_add(p, r, 5.000000013e-01f);
  const float y = mul_add(p, r * r, r) + 1.0f;
  const int32_t n1 = ni >> 1;
  const float scaled = y * pow2(n1) * pow2(ni - n1);
  return select(std::isnan(x), x, scaled);
}

/// tanh: an odd polynomial x + x^3 P(x^2) below |x| = 0.625, 1 - 2 / (e^{2|x|} + 1) with x's sign above.
TD_ALWAYS_INLINE float tanh(float x) {
  const float a = std::abs(x);
  const float z = x * x;
  float p = -6.096714166e-03f;
  p = mul_add(p, z, 2.099717900e-02f);
  p = mul_add(p, z, -5.385090958e-02f);
  p = mul_add(p, z, 1.333276974e-01f);
  p = mul_add(p, z, -3.333332894e-01f);
  const float small = mul_add(x * z, p, x);
  const float large = std::copysign(1.0f - 2.0f / (exp(2.0f * a) + 1.0f), x);
  return select(a < 0.625f, small, large);
}

/// 1 / (1 + e^-x), computed from e = e^{-|x|} <= 1 so that nothing overflows: 1/(1+e) or e/(1+e).
TD_ALWAYS_INLINE float sigmoid(float x) {
  const float e = exp(-std::abs(x));
  return select(x >= 0.0f, 1.0f, e) / (1.0f + e);
}

/// x * sigmoid(x), with the same overflow-free form.
TD_ALWAYS_INLINE float silu(float x) {
  const float e = exp(-std::abs(x));
  return select(x >= 0.0f, x, x * e) / (1.0f + e);
}

/// erf(z) / z for z^2 = u in [0, 0.25] (degree-4 polynomial in u).
TD_ALWAYS_INLINE float erf_small(float u) {
  float p = 4.719082567e-03f;
  p = mul_add(p, u, -2.675773274e-02f);
  p = mul_add(p, u, 1.128283143e-01f);
  p = mul_add(p, u, -3.761260901e-01f);
  return mul_add(p, u, 1.128379166e+00f);
}

/// erfc(z) for z >= 0.5, given z^2 as hi + lo (hi rounded, lo its rounding error): e^{-z^2} R(z) with
/// R(z) = e^{z^2} erfc(z) a degree-9 polynomial in s = 1 / (1 + z/2). Splitting z^2 keeps the exponential
/// accurate (an error d in z^2 would cost a relative error d in the result, ~z^2 ulps).
TD_ALWAYS_INLINE float erfc_tail(float z, float hi, float lo) {
  const float s = 2.0f / (2.0f + z);
  float p = -7.712376870e-02f;
  p = mul_add(p, s, 3.626524412e-01f);
  p = mul_add(p, s, -6.317230861e-01f);
  p = mul_add(p, s, 4.277598415e-01f);
  p = mul_add(p, s, -1.218426870e-01f);
  p = mul_add(p, s, 2.411001305e-01f);
  p = mul_add(p, s, 2.333127311e-01f);
  p = mul_add(p, s, 2.838908157e-01f);
  p = mul_add(p, s, 2.819574514e-01f);
  p = mul_add(p, s, 4.591521967e-06f);
  return exp(-hi) * (1.0f - lo) * p;
}

/// The rounding error of a * a (exact), by FMA or by Dekker's splitting of a into two 12-bit halves.
TD_ALWAYS_INLINE float square_error(float a, float sq) {
#if defined(__FMA__)
  return std::fma(a, a, -sq);
#else
  const float hi = bits<float>(bits<uint32_t>(a) & 0xFFFFF000u);
  const float lo = a - hi;
  return ((hi * hi - sq) + 2.0f * hi * lo) + lo * lo;
#endif
}

TD_ALWAYS_INLINE float erf(float x) {
  const float a = select(std::abs(x) < 10.5f, std::abs(x), 10.5f);  // erf(10.5) is 1 to float precision; keeps inf out
  const float sq = a * a;
  const float tail = 1.0f - erfc_tail(a, sq, square_error(a, sq));
  const float small = x * erf_small(x * x);
  return select(std::isnan(x), x, select(a < 0.5f, small, std::copysign(tail, x)));
}

/// Exact gelu x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2 = erfc(-x / sqrt 2) / 2. The tail uses erfc of
/// |x| / sqrt 2 directly, so that for negative x (Phi tiny) there is no cancellation in 1 + erf.
TD_ALWAYS_INLINE float gelu_erf(float x) {
  constexpr float kSqrtHalf = 0.70710678118654752f;
  const float z = x * kSqrtHalf;
  const float a = select(std::abs(x) < 14.5f, std::abs(x), 14.5f);  // beyond, Phi is 0 or 1 to float precision
  const float sq = a * a;                         // z^2 = x^2 / 2: scale the exact split of x^2
  const float half_tail = 0.5f * erfc_tail(a * kSqrtHalf, 0.5f * sq, 0.5f * square_error(a, sq));
  const float phi_tail = select(x < 0.0f, half_tail, 1.0f - half_tail);
  const float phi_small = mul_add(0.5f * z, erf_small(z * z), 0.5f);
  return x * select(std::abs(z) < 0.5f, phi_small, phi_tail);
}

/// The tanh approximation 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), written as x sigmoid(2u).
/// 2u grows like x^3, so it is formed in double and passed to exp as hi + lo: rounding it to float first
/// would cost up to |2u| ulps.
TD_ALWAYS_INLINE float gelu_tanh(float x) {
  constexpr double kTwoSqrt2OverPi = 1.5957691216057308;
  const double xd = x;
  const double u2 = kTwoSqrt2OverPi * (xd + 0.044715 * xd * xd * xd);
  const float hi = static_cast<float>(u2);
  const float lo = static_cast<float>(u2 - static_cast<double>(hi));
  const float e = exp(-std::abs(hi)) * (1.0f - select(hi >= 0.0f, lo, -lo));  // e^{-|u2|}
  return select(hi >= 0.0f, x, x * e) / (1.0f + e);
}

}  // namespace fmath

// =============================================================================================================
// Threading grains (elements per call below which a kernel stays on the calling thread)
// =============================================================================================================
/// Memory-bound ops (arithmetic, comparisons, copies): a thread pays off only on large arrays.
constexpr int64_t kCheapGrain = kElementwiseGrain;
/// Vectorised float32 transcendental functions: a few ns per 16 elements.
constexpr int64_t kVectorMathGrain = 8192;
/// libm calls per element (float64 transcendental functions, float32 log/sin/pow...).
constexpr int64_t kLibmGrain = 2048;
/// Below this many elements the tiled walk of transposed operands is not worth its setup.
constexpr int64_t kTileMinElements = 4096;
/// Tiles of the transposed walk: rows x columns of the output (measured best on a [1024, 1024] float32 add).
constexpr int64_t kTileRows = 64, kTileCols = 128;

// =============================================================================================================
// Loops
// =============================================================================================================

template <typename To, typename From>
inline To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) return v != From(0);
  else return static_cast<To>(v);
}

/// Copies a rows x cols tile of a transposed operand into `buf` (row-major, kTileCols per row): column j of the
/// tile is contiguous in memory (stride elem along the rows), so it is read in sequential runs. With AVX, 8x8
/// blocks of 4-byte elements and 4x4 blocks of 8-byte ones are transposed in registers (pure bit moves).
template <typename E>
void gather_tile(const char* src, int64_t col_stride, int64_t rows, int64_t cols, unsigned char* buf) {
  E* out = reinterpret_cast<E*>(buf);
  auto column = [&](int64_t j) { return reinterpret_cast<const E*>(src + j * col_stride); };
  int64_t j_done = 0, i_done = 0;  // the block-transposed part: [0, i_done) x [0, j_done)
#if defined(__AVX__)
  if constexpr (sizeof(E) == 4) {
    i_done = rows / 8 * 8;
    j_done = cols / 8 * 8;
    for (int64_t jb = 0; jb < j_done; jb += 8) {
      for (int64_t ib = 0; ib < i_done; ib += 8) {
        __m256 r[8], t[8];
        for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(reinterpret_cast<const float*>(column(jb + k) + ib));
        for (int k = 0; k < 8; k += 2) {
          t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
          t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
        }
        for (int k = 0; k < 8; k += 4) {
          r[k] = _mm256_shuffle_ps(t[k], t[k + 2], 0x44);
          r[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], 0xEE);
          r[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0x44);
          r[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0xEE);
        }
        for (int k = 0; k < 4; ++k) {
          float* lo = reinterpret_cast<float*>(out + (ib + k) * kTileCols + jb);
          float* hi = reinterpret_cast<float*>(out + (ib + k + 4) * kTileCols + jb);
          _mm256_storeu_ps(lo, _mm256_permute2f128_ps(r[k], r[k + 4], 0x20));
          _mm256_storeu_ps(hi, _mm256_permute2f128_ps(r[k], r[k + 4], 0x31));
        }
      }
    }
  } else if constexpr (sizeof(E) == 8) {
    i_done = rows / 4 * 4;
    j_done = cols / 4 * 4;
    for (int64_t jb = 0; jb < j_done; jb += 4) {
      for (int64_t ib = 0; ib < i_done; ib += 4) {
        __m256d r[4];
        for (int k = 0; k < 4; ++k) r[k] = _mm256_loadu_pd(reinterpret_cast<const double*>(column(jb + k) + ib));
        const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
        const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
        double* o = reinterpret_cast<double*>(out + ib * kTileCols + jb);
        _mm256_storeu_pd(o, _mm256_permute2f128_pd(t0, t2, 0x20));
        _mm256_storeu_pd(o + kTileCols, _mm256_permute2f128_pd(t1, t3, 0x20));
        _mm256_storeu_pd(o + 2 * kTileCols, _mm256_permute2f128_pd(t0, t2, 0x31));
        _mm256_storeu_pd(o + 3 * kTileCols, _mm256_permute2f128_pd(t1, t3, 0x31));
      }
    }
  }
#endif
  for (int64_t j = 0; j < cols; ++j) {  // what the blocks did not cover: the right and bottom edges
    const E* c = column(j);
    for (int64_t i = j < j_done ? i_done : 0; i < rows; ++i) out[i * kTileCols + j] = c[i];
  }
}

/// Like for_each_row, but a 2-D problem (after coalescing) in which some input is contiguous along the outer
/// dim and strided along the inner one — a transposed view — is walked in kTileRows x kTileCols tiles. Each
/// tile of such an input is first copied (reading along its contiguous dim) into a small buffer that is
/// contiguous along the rows, so that `inner` then sees only contiguous rows and takes its vectorised path.
/// Reading the transposed input directly along the output's rows would touch one cache line per element, all
/// at the same power-of-two stride and so in the same cache set, which thrashes.
template <size_t N, typename Inner>
void for_each_row_tiled(const std::array<const Strided*, N>& ops, Inner&& inner, int64_t grain) {
  const int64_t numel = ops[0]->numel();
  if (numel >= kTileMinElements) {
    std::array<const Dims*, N> strides;
    std::array<int64_t, N> elem;
    for (size_t k = 0; k < N; ++k) {
      strides[k] = &ops[k]->strides;
      elem[k] = static_cast<int64_t>(element_size(ops[k]->dtype));
    }
    RowGeometry<N> g;
    if (coalesce(ops[0]->sizes, strides, elem, g) && g.nd == 2) {
      std::array<bool, N> transposed{};
      bool any = false;
      for (size_t k = 1; k < N; ++k) {  // inputs only: the output (k = 0) is written where it lies
        transposed[k] = g.stride[k][1] == elem[k] && g.stride[k][0] != elem[k] && g.stride[k][0] != 0;
        any = any || transposed[k];
      }
      if (any && g.size[0] >= 8 && g.size[1] >= 8) {  // partial tiles are fine
        const int64_t cols = g.size[0], rows = g.size[1];
        const int64_t row_blocks = (rows + kTileRows - 1) / kTileRows;
        parallel_for(row_blocks, std::max<int64_t>(1, grain / (kTileRows * cols)), [&](int64_t begin, int64_t end) {
          // One tile buffer per operand, kept per thread (64 KiB each: too much for the stack of a worker).
          thread_local std::vector<unsigned char> scratch;
          constexpr size_t kBufferBytes = kTileRows * kTileCols * 8;
          if (scratch.size() < N * kBufferBytes + 64) scratch.resize(N * kBufferBytes + 64);
          unsigned char* aligned = scratch.data() + (64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64;
          std::array<unsigned char*, N> buffers;
          for (size_t k = 0; k < N; ++k) buffers[k] = aligned + k * kBufferBytes;
          int64_t tile_strides[N];
          for (size_t k = 0; k < N; ++k) tile_strides[k] = transposed[k] ? elem[k] : g.stride[k][0];
          for (int64_t rb = begin; rb < end; ++rb) {
            const int64_t r0 = rb * kTileRows, height = std::min(kTileRows, rows - r0);
            for (int64_t c0 = 0; c0 < cols; c0 += kTileCols) {
              const int64_t width = std::min(kTileCols, cols - c0);
              for (size_t k = 1; k < N; ++k) {
                if (!transposed[k]) continue;
                const char* src = static_cast<const char*>(ops[k]->data) + r0 * g.stride[k][1] + c0 * g.stride[k][0];
                switch (elem[k]) {
                  case 1: gather_tile<uint8_t>(src, g.stride[k][0], height, width, buffers[k]); break;
                  case 4: gather_tile<uint32_t>(src, g.stride[k][0], height, width, buffers[k]); break;
                  default: gather_tile<uint64_t>(src, g.stride[k][0], height, width, buffers[k]); break;
                }
              }
              for (int64_t r = 0; r < height; ++r) {
                std::array<char*, N> p;
                for (size_t k = 0; k < N; ++k)
                  p[k] = transposed[k] ? reinterpret_cast<char*>(buffers[k]) + r * kTileCols * elem[k]
                                       : static_cast<char*>(ops[k]->data) + (r0 + r) * g.stride[k][1] +
                                             c0 * g.stride[k][0];
                inner(p, width, tile_strides);
              }
            }
          }
        });
        return;
      }
    }
  }
  for_each_row<N>(ops, std::forward<Inner>(inner), grain);
}

/// A function object that also knows how to process a contiguous row faster than element by element.
template <typename F, typename In, typename Out>
concept HasRowKernel = requires(const F& f, const In* x, Out* o, int64_t n) { f.row(x, o, n); };

/// dst[i] = f(src[i]); In and Out are element types.
template <typename In, typename Out, typename F>
void map1(const Strided& src, const Strided& dst, const F& f, int64_t grain) {
  for_each_row_tiled<2>({&dst, &src}, [&](std::array<char*, 2> p, int64_t n, const int64_t* s) TD_FLATTEN {
    Out* o = reinterpret_cast<Out*>(p[0]);
    const In* x = reinterpret_cast<const In*>(p[1]);
    constexpr int64_t si = sizeof(In), so = sizeof(Out);
    if (s[0] == so && s[1] == si) {
      if constexpr (HasRowKernel<F, In, Out>) {
        f.row(x, o, n);
      } else if constexpr (std::is_same_v<In, Out>) {
        if (static_cast<const void*>(o) == static_cast<const void*>(x)) {  // in place
          for (int64_t i = 0; i < n; ++i) o[i] = f(o[i]);
          return;
        }
        for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
      }
    } else if (s[0] == so && s[1] == 0) {
      const Out v = f(x[0]);
      for (int64_t i = 0; i < n; ++i) o[i] = v;
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<Out*>(p[0] + i * s[0]) = f(*reinterpret_cast<const In*>(p[1] + i * s[1]));
    }
  }, grain);
}

/// dst[i] = f(a[i], b[i]), with fast paths for contiguous, in-place and scalar-broadcast operands.
template <typename In, typename Out, typename F>
void map2(const Strided& a, const Strided& b, const Strided& dst, const F& f, int64_t grain) {
  for_each_row_tiled<3>({&dst, &a, &b}, [&](std::array<char*, 3> p, int64_t n, const int64_t* s) TD_FLATTEN {
    Out* o = reinterpret_cast<Out*>(p[0]);
    const In* x = reinterpret_cast<const In*>(p[1]);
    const In* y = reinterpret_cast<const In*>(p[2]);
    constexpr int64_t si = sizeof(In), so = sizeof(Out);
    if (s[0] == so && s[1] == si && s[2] == si) {
      if constexpr (std::is_same_v<In, Out>) {
        if (static_cast<const void*>(o) == static_cast<const void*>(x)) {  // in place: a op= b
          for (int64_t i = 0; i < n; ++i) o[i] = f(o[i], y[i]);
          return;
        }
      }
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (s[0] == so && s[1] == si && s[2] == 0) {
      const In yv = *y;
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else if (s[0] == so && s[1] == 0 && s[2] == si) {
      const In xv = *x;
      for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<Out*>(p[0] + i * s[0]) =
            f(*reinterpret_cast<const In*>(p[1] + i * s[1]), *reinterpret_cast<const In*>(p[2] + i * s[2]));
    }
  }, grain);
}

// =============================================================================================================
// Element functions
// =============================================================================================================

/// sqrt (or 1/sqrt) of floating T; contiguous rows use the AVX square root where the target has it.
template <typename T, bool kReciprocal>
struct SqrtFn {
  T operator()(T x) const {
    if constexpr (kReciprocal) return T(1) / std::sqrt(x);
    else return std::sqrt(x);
  }
  void row(const T* x, T* o, int64_t n) const {
    int64_t i = 0;
#if defined(__AVX__)
    if constexpr (std::is_same_v<T, float>) {
      for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_sqrt_ps(_mm256_loadu_ps(x + i));
        if constexpr (kReciprocal) v = _mm256_div_ps(_mm256_set1_ps(1.0f), v);
        _mm256_storeu_ps(o + i, v);
      }
    } else {
      for (; i + 4 <= n; i += 4) {
        __m256d v = _mm256_sqrt_pd(_mm256_loadu_pd(x + i));
        if constexpr (kReciprocal) v = _mm256_div_pd(_mm256_set1_pd(1.0), v);
        _mm256_storeu_pd(o + i, v);
      }
    }
#endif
    for (; i < n; ++i) o[i] = (*this)(x[i]);
  }
};

template <typename T>
TD_ALWAYS_INLINE T sign_of(T x) {
  if constexpr (std::is_floating_point_v<T>) return x > T(0) ? T(1) : (x < T(0) ? T(-1) : x);  // keeps ±0, NaN
  else return static_cast<T>((T(0) < x) - (x < T(0)));
}

/// floor and ceil through round-to-nearest, which vectorises (std::floor does not, with GCC 12).
template <typename T>
TD_ALWAYS_INLINE T floor_of(T x) {
  const T r = std::nearbyint(x);
  return r > x ? r - T(1) : r;
}
template <typename T>
TD_ALWAYS_INLINE T ceil_of(T x) {
  const T r = std::nearbyint(x);
  return r < x ? r + T(1) : r;
}

/// base^exp for integers (exp >= 0), wrapping on overflow like every other int64 op.
inline int64_t int_pow(int64_t base, int64_t exp) {
  uint64_t result = 1, b = static_cast<uint64_t>(base);
  for (; exp > 0; exp >>= 1) {
    if (exp & 1) result *= b;
    b *= b;
  }
  return static_cast<int64_t>(result);
}

/// Set by a kernel that meets a bad value inside a (possibly threaded) loop; checked after the loop, where
/// throwing is safe.
struct KernelFlag {
  std::atomic<bool> raised{false};
  void raise() { raised.store(true, std::memory_order_relaxed); }
};

enum class Cost { Cheap, VectorMath, Libm };

inline int64_t grain_of(Cost c) {
  switch (c) {
    case Cost::Cheap: return kCheapGrain;
    case Cost::VectorMath: return kVectorMathGrain;
    case Cost::Libm: return kLibmGrain;
  }
  return kCheapGrain;
}

/// Calls run(f, cost) with the element function of `op` for element type T (T != bool). Integer inputs of
/// floating functions are computed in double and truncated (the tensor layer promotes them to float first).
template <typename T, typename Run>
void dispatch_unary(UnaryOp op, double p0, double p1, KernelFlag& flag, Run run) {
  using C = std::conditional_t<std::is_floating_point_v<T>, T, double>;  // compute type
  constexpr bool kF32 = std::is_same_v<T, float>;
  constexpr bool kInt = std::is_same_v<T, int64_t>;
  constexpr Cost kMath = kF32 ? Cost::VectorMath : Cost::Libm;
  const C c0 = static_cast<C>(p0), c1 = static_cast<C>(p1);
  auto cast = [](C v) { return convert<T>(v); };
  switch (op) {
    case UnaryOp::Neg: return run([](T x) { return static_cast<T>(-x); }, Cost::Cheap);
    case UnaryOp::Abs: return run([](T x) { return x < T(0) ? static_cast<T>(-x) : x; }, Cost::Cheap);
    case UnaryOp::Sign: return run([](T x) { return sign_of(x); }, Cost::Cheap);
    case UnaryOp::Square: return run([](T x) { return static_cast<T>(x * x); }, Cost::Cheap);
    case UnaryOp::Relu: return run([](T x) { return x < T(0) ? T(0) : x; }, Cost::Cheap);  // NaN stays NaN
    case UnaryOp::Exp:
      if constexpr (kF32) return run([](float x) { return fmath::exp(x); }, kMath);
      else return run([=](T x) { return cast(std::exp(C(x))); }, kMath);
    case UnaryOp::Tanh:
      if constexpr (kF32) return run([](float x) { return fmath::tanh(x); }, kMath);
      else return run([=](T x) { return cast(std::tanh(C(x))); }, kMath);
    case UnaryOp::Sigmoid:
      if constexpr (kF32) {
        return run([](float x) { return fmath::sigmoid(x); }, kMath);
      } else {
        return run([=](T x) {
          const C e = std::exp(-std::abs(C(x)));
          return cast((C(x) >= 0 ? C(1) : e) / (C(1) + e));
        }, kMath);
      }
    case UnaryOp::Silu:
      if constexpr (kF32) {
        return run([](float x) { return fmath::silu(x); }, kMath);
      } else {
        return run([=](T x) {
          const C e = std::exp(-std::abs(C(x)));
          return cast((C(x) >= 0 ? C(x) : C(x) * e) / (C(1) + e));
        }, kMath);
      }
    case UnaryOp::Erf:
      if constexpr (kF32) return run([](float x) { return fmath::erf(x); }, kMath);
      else return run([=](T x) { return cast(std::erf(C(x))); }, kMath);
    case UnaryOp::Gelu:  // p0 == 0: exact (erf); otherwise the tanh approximation
      if constexpr (kF32) {
        if (p0 == 0) return run([](float x) { return fmath::gelu_erf(x); }, kMath);
        return run([](float x) { return fmath::gelu_tanh(x); }, kMath);
      } else {
        if (p0 == 0) return run([=](T x) { return cast(C(0.5) * C(x) * std::erfc(-C(x) * C(M_SQRT1_2))); }, kMath);
        return run([=](T x) {  // x sigmoid(2u), from e = e^{-|2u|} so that nothing overflows or cancels
          const C v = C(x), u2 = C(2 * M_2_SQRTPI * M_SQRT1_2) * (v + C(0.044715) * v * v * v);
          const C e = std::exp(-std::abs(u2));
          return cast((u2 >= 0 ? v : v * e) / (C(1) + e));
        }, kMath);
      }
    case UnaryOp::Sqrt:
      if constexpr (kInt) return run([=](T x) { return cast(std::sqrt(C(x))); }, Cost::Libm);
      else return run(SqrtFn<T, false>{}, Cost::Cheap);
    case UnaryOp::Rsqrt:
      if constexpr (kInt) return run([=](T x) { return cast(C(1) / std::sqrt(C(x))); }, Cost::Libm);
      else return run(SqrtFn<T, true>{}, Cost::Cheap);
    case UnaryOp::Log: return run([=](T x) { return cast(std::log(C(x))); }, Cost::Libm);
    case UnaryOp::Sin: return run([=](T x) { return cast(std::sin(C(x))); }, Cost::Libm);
    case UnaryOp::Cos: return run([=](T x) { return cast(std::cos(C(x))); }, Cost::Libm);
    case UnaryOp::Log1p: return run([=](T x) { return cast(std::log1p(C(x))); }, Cost::Libm);
    case UnaryOp::Expm1: return run([=](T x) { return cast(std::expm1(C(x))); }, Cost::Libm);
    case UnaryOp::Reciprocal: return run([=](T x) { return cast(C(1) / C(x)); }, Cost::Cheap);
    case UnaryOp::Floor:
      if constexpr (kInt) return run([](T x) { return x; }, Cost::Cheap);
      else return run([](T x) { return floor_of(x); }, Cost::Cheap);
    case UnaryOp::Ceil:
      if constexpr (kInt) return run([](T x) { return x; }, Cost::Cheap);
      else return run([](T x) { return ceil_of(x); }, Cost::Cheap);
    case UnaryOp::Round:  // half to even, like libtorch
      if constexpr (kInt) return run([](T x) { return x; }, Cost::Cheap);
      else return run([](T x) { return std::nearbyint(x); }, Cost::Cheap);
    case UnaryOp::AddScalar:
      if constexpr (kInt) return run([v = static_cast<int64_t>(p0)](T x) { return static_cast<T>(
                                        static_cast<uint64_t>(x) + static_cast<uint64_t>(v)); }, Cost::Cheap);
      else return run([=](T x) { return static_cast<T>(x + c0); }, Cost::Cheap);
    case UnaryOp::MulScalar:
      if constexpr (kInt) return run([v = static_cast<int64_t>(p0)](T x) { return static_cast<T>(
                                        static_cast<uint64_t>(x) * static_cast<uint64_t>(v)); }, Cost::Cheap);
      else return run([=](T x) { return static_cast<T>(x * c0); }, Cost::Cheap);
    case UnaryOp::RSubScalar:
      if constexpr (kInt) return run([v = static_cast<int64_t>(p0)](T x) { return static_cast<T>(
                                        static_cast<uint64_t>(v) - static_cast<uint64_t>(x)); }, Cost::Cheap);
      else return run([=](T x) { return static_cast<T>(c0 - x); }, Cost::Cheap);
    case UnaryOp::DivScalar: return run([=](T x) { return cast(C(x) / c0); }, Cost::Cheap);
    case UnaryOp::RDivScalar: return run([=](T x) { return cast(c0 / C(x)); }, Cost::Cheap);
    case UnaryOp::PowScalar:
      if constexpr (kInt) {
        if (p0 < 0) {
          flag.raise();
          return;
        }
        if (p0 == 2) return run([](T x) { return static_cast<T>(static_cast<uint64_t>(x) * static_cast<uint64_t>(x)); },
                                Cost::Cheap);
        return run([e = static_cast<int64_t>(p0)](T x) { return int_pow(x, e); }, Cost::Cheap);
      } else {
        if (p0 == 1) return run([](T x) { return x; }, Cost::Cheap);
        if (p0 == 2) return run([](T x) { return x * x; }, Cost::Cheap);
        if (p0 == 3) return run([](T x) { return x * x * x; }, Cost::Cheap);
        if (p0 == -1) return run([](T x) { return T(1) / x; }, Cost::Cheap);
        if (p0 == -2) return run([](T x) { return T(1) / (x * x); }, Cost::Cheap);
        if (p0 == 0.5) return run(SqrtFn<T, false>{}, Cost::Cheap);
        if (p0 == -0.5) return run(SqrtFn<T, true>{}, Cost::Cheap);
        return run([=](T x) { return std::pow(x, c0); }, Cost::Libm);
      }
    case UnaryOp::RPowScalar:
      if constexpr (kInt) {
        return run([&flag, b = static_cast<int64_t>(p0)](T x) {
          if (x < 0) {
            flag.raise();
            return T(0);
          }
          return int_pow(b, x);
        }, Cost::Cheap);
      } else {
        return run([=](T x) { return std::pow(c0, x); }, Cost::Libm);
      }
    case UnaryOp::Clamp:  // min(max(x, p0), p1): p1 when p0 > p1, like libtorch; NaN stays NaN
      return run([=](T x) {
        const C v = C(x);
        if (v < c0) return cast(c0 > c1 ? c1 : c0);
        if (v > c1) return cast(c1);
        return x;
      }, Cost::Cheap);
    case UnaryOp::LeakyRelu: return run([=](T x) { return x < T(0) ? cast(c0 * C(x)) : x; }, Cost::Cheap);
    case UnaryOp::Softplus:  // (1/beta) log(1 + e^{beta x}), linear above beta x > threshold
      return run([=](T x) {
        const C bx = c0 * C(x);
        return bx > c1 ? x : cast(std::log1p(std::exp(bx)) / c0);
      }, Cost::Libm);
    default: throw Error(detail::concat("cpu unary: op ", static_cast<int>(op), " is not an arithmetic op"));
  }
}

template <typename T, typename Run>
void dispatch_compare_scalar(UnaryOp op, double p0, Run run) {
  using C = std::conditional_t<std::is_same_v<T, float>, float, double>;
  const C v = static_cast<C>(p0);
  switch (op) {
    case UnaryOp::EqScalar: return run([=](T x) { return C(x) == v; });
    case UnaryOp::NeScalar: return run([=](T x) { return C(x) != v; });
    case UnaryOp::LtScalar: return run([=](T x) { return C(x) < v; });
    case UnaryOp::LeScalar: return run([=](T x) { return C(x) <= v; });
    case UnaryOp::GtScalar: return run([=](T x) { return C(x) > v; });
    case UnaryOp::GeScalar: return run([=](T x) { return C(x) >= v; });
    case UnaryOp::LogicalNot: return run([](T x) { return x == T(0); });
    default: throw Error("cpu unary: not a comparison");
  }
}

template <typename T, typename Run>
void dispatch_binary(BinaryOp op, KernelFlag& flag, Run run) {
  switch (op) {
    case BinaryOp::Add: return run([](T a, T b) { return static_cast<T>(a + b); }, Cost::Cheap);
    case BinaryOp::Sub: return run([](T a, T b) { return static_cast<T>(a - b); }, Cost::Cheap);
    case BinaryOp::Mul: return run([](T a, T b) { return static_cast<T>(a * b); }, Cost::Cheap);
    case BinaryOp::Div:
      if constexpr (std::is_same_v<T, int64_t>) {
        return run([&flag](T a, T b) {  // truncating; the tensor layer promotes integer true division to float
          if (b == 0) {
            flag.raise();
            return T(0);
          }
          return b == -1 ? static_cast<T>(0 - static_cast<uint64_t>(a)) : static_cast<T>(a / b);
        }, Cost::Cheap);
      } else {
        return run([](T a, T b) { return static_cast<T>(a / b); }, Cost::Cheap);
      }
    case BinaryOp::Pow:
      if constexpr (std::is_same_v<T, int64_t>) {
        return run([&flag](T a, T b) {
          if (b < 0) {
            flag.raise();
            return T(0);
          }
          return int_pow(a, b);
        }, Cost::Cheap);
      } else {
        return run([](T a, T b) { return static_cast<T>(std::pow(a, b)); }, Cost::Libm);
      }
    case BinaryOp::Maximum:
      return run([](T a, T b) {
        if constexpr (std::is_floating_point_v<T>)
          if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
        return a > b ? a : b;
      }, Cost::Cheap);
    case BinaryOp::Minimum:
      return run([](T a, T b) {
        if constexpr (std::is_floating_point_v<T>)
          if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
        return a < b ? a : b;
      }, Cost::Cheap);
    default: throw Error("cpu binary: not an arithmetic op");
  }
}

template <typename T, typename Run>
void dispatch_compare(BinaryOp op, Run run) {
  switch (op) {
    case BinaryOp::Eq: return run([](T a, T b) { return a == b; });
    case BinaryOp::Ne: return run([](T a, T b) { return a != b; });
    case BinaryOp::Lt: return run([](T a, T b) { return a < b; });
    case BinaryOp::Le: return run([](T a, T b) { return a <= b; });
    case BinaryOp::Gt: return run([](T a, T b) { return a > b; });
    case BinaryOp::Ge: return run([](T a, T b) { return a >= b; });
    case BinaryOp::LogicalAnd: return run([](T a, T b) { return a != T(0) && b != T(0); });
    case BinaryOp::LogicalOr: return run([](T a, T b) { return a != T(0) || b != T(0); });
    default: throw Error("cpu binary: not a comparison");
  }
}

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::PowScalar: return "pow";
    case UnaryOp::RPowScalar: return "pow";
    default: return "cpu unary";
  }
}

}  // namespace

void CpuBackend::fill(const Strided& dst, double value) {
  visit_dtype(dst.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T v = convert<T>(value);
    for_each_row<1>({&dst}, [&](std::array<char*, 1> p, int64_t n, const int64_t* s) {
      if (s[0] == sizeof(T)) {
        T* o = reinterpret_cast<T*>(p[0]);
        for (int64_t i = 0; i < n; ++i) o[i] = v;
      } else {
        for (int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * s[0]) = v;
      }
    }, kCheapGrain);
  });
}

void CpuBackend::copy(const Strided& src, const Strided& dst) {
  TD_CHECK(src.sizes == dst.sizes, "copy: shapes ", src.sizes, " and ", dst.sizes, " differ");
  if (src.dtype == dst.dtype && src.is_contiguous() && dst.is_contiguous()) {  // a plain byte copy
    if (src.data == dst.data) return;
    const int64_t nbytes = src.numel() * static_cast<int64_t>(element_size(src.dtype));
    const char* from = static_cast<const char*>(src.data);
    char* to = static_cast<char*>(dst.data);
    constexpr int64_t kLine = 64;  // split on cache lines
    parallel_for((nbytes + kLine - 1) / kLine, kCheapGrain * 4 / kLine, [&](int64_t begin, int64_t end) {
      const int64_t b = begin * kLine, e = std::min(nbytes, end * kLine);
      std::memcpy(to + b, from + b, static_cast<size_t>(e - b));
    });
    return;
  }
  visit_dtype(src.dtype, [&](auto in_tag) {
    using In = decltype(in_tag);
    visit_dtype(dst.dtype, [&](auto out_tag) {
      using Out = decltype(out_tag);
      map1<In, Out>(src, dst, [](In x) { return convert<Out>(x); }, kCheapGrain);
    });
  });
}

void CpuBackend::unary(UnaryOp op, const Strided& src, const Strided& dst, double p0, double p1) {
  TD_CHECK(src.sizes == dst.sizes, "cpu unary: shapes ", src.sizes, " and ", dst.sizes, " differ");
  visit_dtype(src.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (unary_op_is_comparison(op)) {
      TD_CHECK(dst.dtype == ScalarType::Bool, "cpu unary: comparison output must be bool, got ", dst.dtype);
      dispatch_compare_scalar<T>(op, p0, [&](const auto& f) { map1<T, bool>(src, dst, f, kCheapGrain); });
    } else {
      TD_CHECK(dst.dtype == src.dtype, "cpu unary: output dtype ", dst.dtype, " differs from input ", src.dtype);
      if constexpr (std::is_same_v<T, bool>) {
        throw Error(detail::concat("cpu unary: op ", static_cast<int>(op), " is not defined for bool"));
      } else {
        KernelFlag flag;
        dispatch_unary<T>(op, p0, p1, flag,
                          [&](const auto& f, Cost cost) { map1<T, T>(src, dst, f, grain_of(cost)); });
        TD_CHECK(!flag.raised.load(), unary_name(op), ": integers to negative integer powers are not allowed");
      }
    }
  });
}

void CpuBackend::binary(BinaryOp op, const Strided& a, const Strided& b, const Strided& dst) {
  TD_CHECK(a.dtype == b.dtype, "cpu binary: operand dtypes ", a.dtype, " and ", b.dtype, " differ");
  TD_CHECK(a.sizes == dst.sizes && b.sizes == dst.sizes, "cpu binary: operand shapes ", a.sizes, " and ", b.sizes,
           " differ from the output shape ", dst.sizes);
  visit_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (binary_op_is_comparison(op)) {
      TD_CHECK(dst.dtype == ScalarType::Bool, "cpu binary: comparison output must be bool, got ", dst.dtype);
      dispatch_compare<T>(op, [&](const auto& f) { map2<T, bool>(a, b, dst, f, kCheapGrain); });
    } else {
      TD_CHECK(dst.dtype == a.dtype, "cpu binary: output dtype ", dst.dtype, " differs from inputs ", a.dtype);
      KernelFlag flag;
      if constexpr (std::is_same_v<T, bool>) {
        // bool arithmetic: computed on 0/1 integers, the result saturated back to bool (add = or, mul = and)
        dispatch_binary<int64_t>(op, flag, [&](const auto& f, Cost cost) {
          map2<bool, bool>(a, b, dst, [&f](bool x, bool y) { return f(int64_t(x), int64_t(y)) != 0; },
                           grain_of(cost));
        });
      } else {
        dispatch_binary<T>(op, flag, [&](const auto& f, Cost cost) { map2<T, T>(a, b, dst, f, grain_of(cost)); });
      }
      TD_CHECK(!flag.raised.load(), op == BinaryOp::Div ? "div: integer division by zero"
                                                        : "pow: integers to negative integer powers are not allowed");
    }
  });
}

void CpuBackend::where(const Strided& cond, const Strided& a, const Strided& b, const Strided& dst) {
  TD_CHECK(cond.dtype == ScalarType::Bool, "where: condition must be bool, got ", cond.dtype);
  TD_CHECK(a.dtype == dst.dtype && b.dtype == dst.dtype, "where: operand dtypes ", a.dtype, " and ", b.dtype,
           " must match the output dtype ", dst.dtype);
  TD_CHECK(cond.sizes == dst.sizes && a.sizes == dst.sizes && b.sizes == dst.sizes, "where: operand shapes ",
           cond.sizes, ", ", a.sizes, " and ", b.sizes, " differ from the output shape ", dst.sizes);
  visit_dtype(dst.dtype, [&](auto tag) {
    using T = decltype(tag);
    for_each_row_tiled<4>({&dst, &cond, &a, &b}, [&](std::array<char*, 4> p, int64_t n, const int64_t* s) {
      T* o = reinterpret_cast<T*>(p[0]);
      const bool* c = reinterpret_cast<const bool*>(p[1]);
      const T* x = reinterpret_cast<const T*>(p[2]);
      const T* y = reinterpret_cast<const T*>(p[3]);
      constexpr int64_t st = sizeof(T);
      if (s[0] == st && s[1] == 1 && s[2] == st && s[3] == st) {
        for (int64_t i = 0; i < n; ++i) o[i] = c[i] ? x[i] : y[i];
      } else if (s[0] == st && s[1] == 1 && s[2] == 0 && s[3] == st) {  // masked_fill: a is the fill value
        const T xv = *x;
        for (int64_t i = 0; i < n; ++i) o[i] = c[i] ? xv : y[i];
      } else if (s[0] == st && s[1] == 1 && s[2] == st && s[3] == 0) {
        const T yv = *y;
        for (int64_t i = 0; i < n; ++i) o[i] = c[i] ? x[i] : yv;
      } else {
        for (int64_t i = 0; i < n; ++i)
          *reinterpret_cast<T*>(p[0] + i * s[0]) = *reinterpret_cast<const bool*>(p[1] + i * s[1])
                                                       ? *reinterpret_cast<const T*>(p[2] + i * s[2])
                                                       : *reinterpret_cast<const T*>(p[3] + i * s[3]);
      }
    }, kCheapGrain);
  });
}

}  // namespace tandem::cpu
