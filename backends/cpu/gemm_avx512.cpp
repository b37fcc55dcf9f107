// The AVX-512 micro-kernels of the CPU GEMM (float and double). Each keeps an MR x NR tile of C in zmm
// registers (NR = 2 vectors per row), and for every step k loads one row of B (2 vectors, from a packed panel or
// from B itself) and broadcasts MR values of the packed A panel into fused multiply-adds. The functions are
// compiled for AVX-512 with a target attribute so the rest of the library keeps the build's baseline ISA;
// gemm.cpp calls them only after __builtin_cpu_supports("avx512f") said yes.
#include <immintrin.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "backends/cpu/gemm.h"

#define TANDEM_TARGET_AVX512 __attribute__((target("avx512f")))

namespace tandem::cpu::detail {
namespace {

// One zmm register's worth of T and the few operations the kernel needs.
template <typename T> struct Zmm;

template <> struct Zmm<float> {
  using V = __m512;
  static constexpr int kLanes = 16;
  TANDEM_TARGET_AVX512 static V zero() { return _mm512_setzero_ps(); }
  TANDEM_TARGET_AVX512 static V load(const float* p) { return _mm512_loadu_ps(p); }
  TANDEM_TARGET_AVX512 static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  TANDEM_TARGET_AVX512 static V broadcast(float x) { return _mm512_set1_ps(x); }
  TANDEM_TARGET_AVX512 static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
};

template <> struct Zmm<double> {
  using V = __m512d;
  static constexpr int kLanes = 8;
  TANDEM_TARGET_AVX512 static V zero() { return _mm512_setzero_pd(); }
  TANDEM_TARGET_AVX512 static V load(const double* p) { return _mm512_loadu_pd(p); }
  TANDEM_TARGET_AVX512 static void store(double* p, V v) { _mm512_storeu_pd(p, v); }
  TANDEM_TARGET_AVX512 static V broadcast(double x) { return _mm512_set1_pd(x); }
  TANDEM_TARGET_AVX512 static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
};

// How far ahead (in k steps) the kernel prefetches the streamed rows of B into L1.
constexpr int kPrefetchStepsB = 8;

/// C[Rows x NV*lanes] = Ap @ B + beta * C (see MicroKernelFn) for the first Rows rows of an A micro-panel packed
/// with PanelRows values per k (Rows < PanelRows serves the last, partial panel of A without wasted work). The
/// loops over the tile are unrolled completely so that the Rows * NV accumulators live in registers for the
/// whole k loop. B's rows are rs_b apart (nr for a packed panel) and need no alignment.
template <typename T, int Rows, int NV, int PanelRows>
TANDEM_TARGET_AVX512 void micro_kernel(int64_t kc, const T* __restrict Ap, const T* __restrict Bp,
                                       int64_t rs_b, T* __restrict C, int64_t rs_c, T beta) {
  using Z = Zmm<T>;
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

// Tiles: 12 rows x 2 vectors = 24 accumulators + 2 B vectors + 1 broadcast of the 32 zmm registers.
// Blocks (tuned on a 1 MiB-L2 Zen 4): the kc x nc block of B (768 KiB) stays in L2 and an mr x kc micro-panel of
// A (18 KiB in float) in L1 as far as it fits; the mc x kc block of A (3.4 MiB) sits in L3.
GemmKernel<float> avx512_kernel_f32() {
  return {"avx512", &micro_kernel<float, 12, 2, 12>, kPartialRowKernels<float, 12, 2>.data(), 12, 32,
          /*mc=*/2304, /*kc=*/384, /*nc=*/512};
}
GemmKernel<double> avx512_kernel_f64() {
  return {"avx512", &micro_kernel<double, 12, 2, 12>, kPartialRowKernels<double, 12, 2>.data(), 12, 16,
          /*mc=*/1152, /*kc=*/384, /*nc=*/256};
}

}  // namespace tandem::cpu::detail
