// CPU matrix multiplication. `gemm` is the fast path used by the backend (packed panels, an AVX-512 or AVX2
// micro-kernel chosen at run time, OpenMP threads). The `ladder` namespace keeps each step of the optimisation
// (naive -> blocked -> packed + vectorised -> threaded) as a separate, tested function so that the benchmark
// in bench/ can show what each step buys.
//
// Layout: every matrix is given by a pointer and two strides in elements, so transposed and otherwise
// non-contiguous operands need no copy by the caller: element (i, j) of A is A[i * rs_a + j * cs_a].
#pragma once

#include <cstdint>

namespace tandem::cpu {

/// C = alpha * A @ B + beta * C with A [M, K], B [K, N], C [M, N]. beta == 0 never reads C (NaNs in C vanish).
void gemm(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t rs_a, int64_t cs_a, const float* B,
          int64_t rs_b, int64_t cs_b, float beta, float* C, int64_t rs_c, int64_t cs_c);
void gemm(int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t rs_a, int64_t cs_a,
          const double* B, int64_t rs_b, int64_t cs_b, double beta, double* C, int64_t rs_c, int64_t cs_c);

/// Which SIMD micro-kernel gemm uses on this machine: "avx512", "avx2" or "scalar".
const char* gemm_kernel_name();

/// Makes gemm use the named micro-kernel ("avx512", "avx2" or "scalar") instead of the best one this CPU
/// supports, or goes back to the best one for nullptr. Returns false (and changes nothing) when the name is
/// unknown or the CPU lacks the instructions. Meant for tests and benchmarks that compare the kernels.
bool set_gemm_kernel(const char* name);

namespace detail {
/// A register-blocked micro-kernel: C[0:mr, 0:nr] = Ap @ B + beta * C, where Ap is a packed micro-panel of A
/// (kc steps of mr values, 64-byte aligned) and B holds kc rows of nr consecutive values, rs_b apart: a packed
/// micro-panel of B (rs_b = nr) or, when packing would not pay, nr columns of a row-major B read in place.
/// C has row stride rs_c and column stride 1; beta == 0 never reads C.
template <typename T>
using MicroKernelFn = void (*)(int64_t kc, const T* Ap, const T* B, int64_t rs_b, T* C, int64_t rs_c, T beta);

/// A micro-kernel with the register tile (mr x nr) and the cache blocks (mc x kc of A, kc x nc of B) that suit it.
template <typename T>
struct GemmKernel {
  const char* name;
  MicroKernelFn<T> run;
  /// partial_rows[m - 1] computes only the first m < mr rows of a tile (the last panel of A), or nullptr.
  const MicroKernelFn<T>* partial_rows;
  int mr, nr;
  int64_t mc, kc, nc;
};

// Defined in gemm_avx512.cpp and gemm_avx2.cpp; call them only when the CPU supports the instructions.
GemmKernel<float> avx512_kernel_f32();
GemmKernel<double> avx512_kernel_f64();
GemmKernel<float> avx2_kernel_f32();
GemmKernel<double> avx2_kernel_f64();
}  // namespace detail

namespace ladder {
// Single-precision, row-major contiguous A [M,K], B [K,N], C [M,N]; each computes C = A @ B.
void sgemm_naive(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C);
void sgemm_blocked(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C);
void sgemm_packed(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C);    // 1 thread
void sgemm_threaded(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C);  // all threads
}  // namespace ladder

}  // namespace tandem::cpu
