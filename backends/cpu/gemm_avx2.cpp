// The AVX2 + FMA micro-kernels of the CPU GEMM (float and double), for CPUs without AVX-512. Same scheme as
// gemm_avx512.cpp with 256-bit ymm registers: an MR x NR tile of C in registers (NR = 2 vectors per row); for
// every step k one row of B (2 vectors, from a packed panel or from B itself) is loaded and MR values of the
// packed A panel are broadcast into fused multiply-adds. Compiled for AVX2/FMA with a target attribute;
// gemm.cpp calls these only after __builtin_cpu_supports said the CPU has both.
#include <immintrin.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "backends/cpu/gemm.h"

#define TANDEM_TARGET_AVX2 __attribute__((target("avx2,fma")))

namespace tandem::cpu::detail {
namespace {

// One ymm register's worth of T and the few operations the kernel needs.
template <typename T> struct Ymm;

template <> struct Ymm<float> {
  using V = __m256;
  static constexpr int kLanes = 8;
  TANDEM_TARGET_AVX2 static V zero() { return _mm256_setzero_ps(); }
  TANDEM_TARGET_AVX2 static V load(const float* p) { return _mm256_loadu_ps(p); }
  TANDEM_TARGET_AVX2 static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  TANDEM_TARGET_AVX2 static V broadcast(float x) { return _mm256_set1_ps(x); }
  TANDEM_TARGET_AVX2 static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
};

template <> struct Ymm<double> {
  using V = __m256d;
  static constexpr int kLanes = 4;
  TANDEM_TARGET_AVX2 static V zero() { return _mm256_setzero_pd(); }
  TANDEM_TARGET_AVX2 static V load(const double* p) { return _mm256_loadu_pd(p); }
  TANDEM_TARGET_AVX2 static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  TANDEM_TARGET_AVX2 static V broadcast(double x) { return _mm256_set1_pd(x); }
  TANDEM_TARGET_AVX2 static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
};

// How far ahead (in k steps) the kernel prefetches the streamed rows of B into L1.
constexpr int kPrefetchStepsB = 8;

/// C[Rows x NV*lanes] = Ap @ B + beta * C (see MicroKernelFn) for the first Rows rows of an A micro-panel packed
/// with PanelRows values per k (Rows < PanelRows serves the last, partial panel of A without wasted work). The
/// loops over the tile are unrolled completely so that the Rows * NV accumulators live in registers for the
/// whole k loop. B's rows are rs_b apart (nr for a packed panel) and need no alignment.
template <typename T, int Rows, int NV, int PanelRows>
TANDEM_TARGET_AVX2 void micro_kernel(int64_t kc, const T* __restrict Ap, const T* __restrict Bp,
                                       int64_t rs_b, T* __restrict C, int64_t rs_c, T beta) {
  using Z = Ymm<T>;
  using V = typename Z::V;
  constexpr int kNR = NV * Z::kLanes;

  V acc[Rows][NV];
#pragma GCC unroll 16
  for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = Z::zero();

  // Pull the C tile towards L1 while the k loop runs; it is read (or just written) at the end.
#pragma GCC unroll 16
  for (int i = 0; i < Rows; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * rs_c), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + i * rs_c + kNR - 1), _MM_HINT_T0);
  }

#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = Z::load(Bp + v * Z::kLanes);
    _mm_prefetch(reinterpret_cast<const char*>(Bp + kPrefetchStepsB * rs_b), _MM_HINT_T0);
    if constexpr (kNR * sizeof(T) > 64)
      _mm_prefetch(reinterpret_cast<const char*>(Bp + kPrefetchStepsB * rs_b + 64 / sizeof(T)), _MM_HINT_T0);
#pragma GCC unroll 16
    for (int i = 0; i < Rows; ++i) {
      V a = Z::broadcast(Ap[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = Z::fma(a, b[v], acc[i][v]);
    }
    Ap += PanelRows;
    Bp += rs_b;
  }

  if (beta == T(0)) {
#pragma GCC unroll 16
    for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) Z::store(C + i * rs_c + v * Z::kLanes, acc[i][v]);
  } else {
    V beta_v = Z::broadcast(beta);
#pragma GCC unroll 16
    for (int i = 0; i < Rows; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        T* c = C + i * rs_c + v * Z::kLanes;
        Z::store(c, Z::fma(beta_v, Z::load(c), acc[i][v]));
      }
  }
}

/// micro_kernel for 1, 2, ..., MR - 1 rows of an MR-row panel, indexed by rows - 1.
template <typename T, int MR, int NV, size_t... RowsMinusOne>
constexpr std::array<MicroKernelFn<T>, MR - 1> partial_row_kernels(std::index_sequence<RowsMinusOne...>) {
  return {&micro_kernel<T, static_cast<int>(RowsMinusOne) + 1, NV, MR>...};
}
template <typename T, int MR, int NV>
constexpr std::array<MicroKernelFn<T>, MR - 1> kPartialRowKernels =
    partial_row_kernels<T, MR, NV>(std::make_index_sequence<MR - 1>{});

}  // namespace

// Tiles: 6 rows x 2 vectors = 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers.
// Blocks: the kc x nc block of B (768 KiB) stays in L2, an mr x kc micro-panel of A in L1.
GemmKernel<float> avx2_kernel_f32() {
  return {"avx2", &micro_kernel<float, 6, 2, 6>, kPartialRowKernels<float, 6, 2>.data(), 6, 16,
          /*mc=*/2304, /*kc=*/384, /*nc=*/512};
}
GemmKernel<double> avx2_kernel_f64() {
  return {"avx2", &micro_kernel<double, 6, 2, 6>, kPartialRowKernels<double, 6, 2>.data(), 6, 8,
          /*mc=*/1152, /*kc=*/384, /*nc=*/256};
}

}  // namespace tandem::cpu::detail
