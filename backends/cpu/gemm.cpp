// The CPU GEMM driver: cache blocking, packing, threads and the choice of micro-kernel, plus the optimisation
// ladder used by bench/gemm_cpu.cpp.
//
// How gemm works (the classic Goto/BLIS scheme, in row-major terms):
//   for each block of mc rows of A:                        (the packed A block sits in L3)
//     for each block of kc steps of k:
//       pack A[ic:ic+mc, pc:pc+kc] into micro-panels of mr rows (alpha folded in)
//       for each block of nc columns of B:                 (the packed B block sits in L2)
//         pack B[pc:pc+kc, jc:jc+nc] into micro-panels of nr columns
//         for each micro-panel of A (mr rows):             (stays in L1 while ...)
//           for each micro-panel of B (nr columns):        (... the B panels stream from L2)
//             micro-kernel: C tile (mr x nr) = A panel @ B panel + beta * C tile
// Panels are zero-padded to whole tiles, so the kernel never branches on edges. The last, partial panel of A
// goes to a kernel variant that computes only its valid rows; a tile with missing columns (or whose columns are
// not contiguous in C) is computed into a small buffer and then merged into C element by element.
// Packing B copies each of its values once so that every row panel of A then streams it from one compact block;
// with only a few row panels (few rows of A, as in a convolution's products) that copy costs more than it
// saves, so a row-major B is read in place instead: the kernel takes the distance between B's rows, and only a
// last panel with fewer than nr columns (which the kernel would read past) is packed.
// The SIMD micro-kernels live in gemm_avx512.cpp and gemm_avx2.cpp; the portable one is below.
#include "backends/cpu/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "backends/cpu/parallel.h"

namespace tandem::cpu {
namespace {

using detail::GemmKernel;
using detail::MicroKernelFn;

// ---------------------------------------------------------------------------------------------------------------
// Portable micro-kernel (used when the CPU has neither AVX-512 nor AVX2 with FMA).
// ---------------------------------------------------------------------------------------------------------------
template <typename T, int MR, int NR>
void scalar_micro_kernel(int64_t kc, const T* __restrict Ap, const T* __restrict Bp, int64_t rs_b, T* __restrict C,
                         int64_t rs_c, T beta) {
  T acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += Ap[i] * Bp[j];
    Ap += MR;
    Bp += rs_b;
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) {
      T& c = C[i * rs_c + j];
      c = beta == T(0) ? acc[i][j] : acc[i][j] + beta * c;
    }
}

template <typename T>
GemmKernel<T> scalar_kernel() {
  return {"scalar", &scalar_micro_kernel<T, 4, 8>, nullptr, 4, 8, /*mc=*/256, /*kc=*/256, /*nc=*/1024};
}

// ---------------------------------------------------------------------------------------------------------------
// Choosing the micro-kernel
// ---------------------------------------------------------------------------------------------------------------
enum class Isa : int { Avx512 = 0, Avx2 = 1, Scalar = 2 };
constexpr const char* kIsaNames[] = {"avx512", "avx2", "scalar"};

bool cpu_supports(Isa isa) {
  __builtin_cpu_init();  // needed when called before the C runtime's constructors ran (static initialisers)
  switch (isa) {
    case Isa::Avx512: return __builtin_cpu_supports("avx512f");
    case Isa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::Scalar: return true;
  }
  return false;
}

Isa best_isa() {
  static const Isa best = cpu_supports(Isa::Avx512) ? Isa::Avx512 : cpu_supports(Isa::Avx2) ? Isa::Avx2 : Isa::Scalar;
  return best;
}

// -1: use best_isa(); otherwise the Isa forced by set_gemm_kernel.
std::atomic<int> forced_isa{-1};

Isa current_isa() {
  int forced = forced_isa.load(std::memory_order_relaxed);
  return forced < 0 ? best_isa() : static_cast<Isa>(forced);
}

template <typename T>
GemmKernel<T> kernel_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      if constexpr (std::is_same_v<T, float>) return detail::avx512_kernel_f32();
      else return detail::avx512_kernel_f64();
    case Isa::Avx2:
      if constexpr (std::is_same_v<T, float>) return detail::avx2_kernel_f32();
      else return detail::avx2_kernel_f64();
    case Isa::Scalar: break;
  }
  return scalar_kernel<T>();
}

// ---------------------------------------------------------------------------------------------------------------
// Packing buffers: one pair per thread, 64-byte aligned, grown on demand and kept for the next call.
// ---------------------------------------------------------------------------------------------------------------
class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { std::free(data_); }

  template <typename T>
  T* get(size_t count) {
    size_t bytes = (count * sizeof(T) + 63) / 64 * 64;
    if (bytes > capacity_) {
      std::free(data_);
      data_ = std::aligned_alloc(64, bytes);
      capacity_ = data_ ? bytes : 0;
      if (!data_) throw std::bad_alloc();
    }
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

thread_local PackBuffer packed_a_buffer;
thread_local PackBuffer packed_b_buffer;

// ---------------------------------------------------------------------------------------------------------------
// The operands of one call, with strides in elements.
// ---------------------------------------------------------------------------------------------------------------
template <typename T>
struct GemmArgs {
  int64_t M, N, K;
  T alpha;
  const T* A;
  int64_t rs_a, cs_a;
  const T* B;
  int64_t rs_b, cs_b;
  T beta;
  T* C;
  int64_t rs_c, cs_c;
};

/// Packs one micro-panel of W lines whose values are contiguous along the steps (step stride 1): blocks of kBlock
/// steps are transposed through a small buffer so that both the reads and the writes run over consecutive
/// addresses. kPartial: only the first `count` lines exist, the others are packed as zeros.
template <typename T, int W, bool kPartial>
inline void pack_transposed_panel(int64_t count, int64_t steps, const T* __restrict panel, int64_t line_stride,
                                  T scale, T* __restrict out) {
  constexpr int64_t kBlock = 16;
  int64_t k = 0;
  for (; k + kBlock <= steps; k += kBlock) {
    T block[W][kBlock];
    if constexpr (kPartial) {
      for (int64_t l = 0; l < count; ++l)
#pragma GCC unroll 16
        for (int kk = 0; kk < kBlock; ++kk) block[l][kk] = panel[l * line_stride + k + kk];
      for (int64_t l = count; l < W; ++l)
#pragma GCC unroll 16
        for (int kk = 0; kk < kBlock; ++kk) block[l][kk] = T(0);
    } else {
#pragma GCC unroll 32
      for (int l = 0; l < W; ++l)
#pragma GCC unroll 16
        for (int kk = 0; kk < kBlock; ++kk) block[l][kk] = panel[l * line_stride + k + kk];
    }
#pragma GCC unroll 16
    for (int kk = 0; kk < kBlock; ++kk)
#pragma GCC unroll 32
      for (int l = 0; l < W; ++l) out[(k + kk) * W + l] = scale * block[l][kk];
  }
  for (; k < steps; ++k)
    for (int l = 0; l < W; ++l) out[k * W + l] = !kPartial || l < count ? scale * panel[l * line_stride + k] : T(0);
}

/// Packs `lines` x `steps` values of a strided matrix into micro-panels of W lines: panel p holds, for each step
/// k, lines p*W .. p*W+W-1 (scaled by `scale`; zeros past `lines`), i.e.
///   out[p * steps * W + k * W + l] = scale * src[(p * W + l) * line_stride + k * step_stride].
/// A is packed with its rows as lines and B with its columns as lines. Reads run along whichever stride is 1.
template <typename T, int W>
void pack_panels_fixed(int64_t lines, int64_t steps, const T* __restrict src, int64_t line_stride, int64_t step_stride,
                       T scale, T* __restrict out) {
  for (int64_t l0 = 0; l0 < lines; l0 += W, out += steps * W) {
    const T* panel = src + l0 * line_stride;
    const int64_t count = std::min<int64_t>(W, lines - l0);  // below W only for the last, zero-padded panel
    if (step_stride == 1 && line_stride != 1) {
      // Lines are contiguous in memory and must be interleaved.
      if (count == W) pack_transposed_panel<T, W, false>(count, steps, panel, line_stride, scale, out);
      else pack_transposed_panel<T, W, true>(count, steps, panel, line_stride, scale, out);
    } else if (count < W) {  // a partial panel read along its lines: plain loops, zeros in the padding
      for (int64_t k = 0; k < steps; ++k) {
        for (int64_t l = 0; l < count; ++l) out[k * W + l] = scale * panel[l * line_stride + k * step_stride];
        for (int64_t l = count; l < W; ++l) out[k * W + l] = T(0);
      }
    } else if (line_stride == 1) {
      for (int64_t k = 0; k < steps; ++k) {
        const T* step = panel + k * step_stride;
#pragma GCC unroll 32
        for (int l = 0; l < W; ++l) out[k * W + l] = scale * step[l];
      }
    } else {
      for (int64_t k = 0; k < steps; ++k)
        for (int l = 0; l < W; ++l) out[k * W + l] = scale * panel[l * line_stride + k * step_stride];
    }
  }
}

/// pack_panels_fixed for the panel widths the kernels use (their mr and nr).
template <typename T>
void pack_panels(int width, int64_t lines, int64_t steps, const T* src, int64_t line_stride, int64_t step_stride,
                 T scale, T* out) {
  switch (width) {
    case 4: return pack_panels_fixed<T, 4>(lines, steps, src, line_stride, step_stride, scale, out);
    case 6: return pack_panels_fixed<T, 6>(lines, steps, src, line_stride, step_stride, scale, out);
    case 8: return pack_panels_fixed<T, 8>(lines, steps, src, line_stride, step_stride, scale, out);
    case 12: return pack_panels_fixed<T, 12>(lines, steps, src, line_stride, step_stride, scale, out);
    case 16: return pack_panels_fixed<T, 16>(lines, steps, src, line_stride, step_stride, scale, out);
    case 32: return pack_panels_fixed<T, 32>(lines, steps, src, line_stride, step_stride, scale, out);
    default: throw std::logic_error("gemm: no packing routine for micro-panels of width " + std::to_string(width));
  }
}

// Largest mr * nr of any kernel (avx512 float: 12 x 32).
constexpr int kMaxTileElements = 16 * 64;

/// Runs the micro-kernel on one tile of C with `rows` x `cols` valid entries; B's rows are rs_b apart.
template <typename T>
void run_tile(const GemmKernel<T>& uk, int64_t kc, const T* Ap, const T* Bp, int64_t rs_b, T* C, int64_t rs_c,
              int64_t cs_c, int64_t rows, int64_t cols, T beta) {
  if (cols == uk.nr && cs_c == 1) {
    if (rows == uk.mr) {
      uk.run(kc, Ap, Bp, rs_b, C, rs_c, beta);
      return;
    }
    if (uk.partial_rows != nullptr) {
      uk.partial_rows[rows - 1](kc, Ap, Bp, rs_b, C, rs_c, beta);
      return;
    }
  }
  // Into a buffer, then merged; a partial panel of A still computes only its rows.
  alignas(64) T tile[kMaxTileElements];
  const MicroKernelFn<T> kernel = rows < uk.mr && uk.partial_rows != nullptr ? uk.partial_rows[rows - 1] : uk.run;
  kernel(kc, Ap, Bp, rs_b, tile, uk.nr, T(0));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      T& c = C[i * rs_c + j * cs_c];
      c = beta == T(0) ? tile[i * uk.nr + j] : tile[i * uk.nr + j] + beta * c;
    }
}

/// Products with at most this many row panels of A read a row-major B in place instead of packing it: packing
/// copies each element of B once to save strided reads in every row panel, which only pays with many panels.
constexpr int64_t kMaxRowPanelsForUnpackedB = 3;

/// gemm on the calling thread (M, N, K >= 1, alpha != 0).
template <typename T>
void gemm_single_thread(const GemmKernel<T>& uk, const GemmArgs<T>& g) {
  const int64_t mc_max = std::min<int64_t>(uk.mc, (g.M + uk.mr - 1) / uk.mr * uk.mr);
  const int64_t kc_max = std::min<int64_t>(uk.kc, g.K);
  const int64_t nc_max = std::min<int64_t>(uk.nc, (g.N + uk.nr - 1) / uk.nr * uk.nr);
  // B in place: full micro-panels are read straight from B; only a last, partial one (fewer than nr columns,
  // which the kernel would read past) is packed.
  const bool b_in_place = g.cs_b == 1 && g.M <= kMaxRowPanelsForUnpackedB * uk.mr;
  T* packed_a = packed_a_buffer.get<T>(static_cast<size_t>(mc_max * kc_max));
  T* packed_b = packed_b_buffer.get<T>(static_cast<size_t>(kc_max * (b_in_place ? uk.nr : nc_max)));

  for (int64_t ic = 0; ic < g.M; ic += uk.mc) {
    const int64_t mc = std::min<int64_t>(uk.mc, g.M - ic);
    for (int64_t pc = 0; pc < g.K; pc += uk.kc) {
      const int64_t kc = std::min<int64_t>(uk.kc, g.K - pc);
      const T beta = pc == 0 ? g.beta : T(1);  // later k blocks accumulate onto the first one's result
      pack_panels(uk.mr, mc, kc, g.A + ic * g.rs_a + pc * g.cs_a, g.rs_a, g.cs_a, g.alpha, packed_a);
      for (int64_t jc = 0; jc < g.N; jc += uk.nc) {
        const int64_t nc = std::min<int64_t>(uk.nc, g.N - jc);
        const T* b_block = g.B + pc * g.rs_b + jc * g.cs_b;
        const int64_t full_columns = b_in_place ? nc / uk.nr * uk.nr : 0;  // read in place
        if (b_in_place) {
          if (full_columns < nc)
            pack_panels(uk.nr, nc - full_columns, kc, b_block + full_columns, 1, g.rs_b, T(1), packed_b);
        } else {
          pack_panels(uk.nr, nc, kc, b_block, g.cs_b, g.rs_b, T(1), packed_b);
        }
        for (int64_t ir = 0; ir < mc; ir += uk.mr) {
          const T* Ap = packed_a + ir * kc;
          T* c_rows = g.C + (ic + ir) * g.rs_c + jc * g.cs_c;
          const int64_t rows = std::min<int64_t>(uk.mr, mc - ir);
          for (int64_t jr = 0; jr < nc; jr += uk.nr) {
            const int64_t cols = std::min<int64_t>(uk.nr, nc - jr);
            if (jr < full_columns) {
              run_tile(uk, kc, Ap, b_block + jr, g.rs_b, c_rows + jr * g.cs_c, g.rs_c, g.cs_c, rows, cols, beta);
            } else {
              run_tile(uk, kc, Ap, packed_b + (jr - full_columns) * kc, int64_t{uk.nr}, c_rows + jr * g.cs_c, g.rs_c,
                       g.cs_c, rows, cols, beta);
            }
          }
        }
      }
    }
  }
}

/// C = beta * C (the whole answer when K == 0 or alpha == 0); beta == 0 writes zeros without reading C.
template <typename T>
void scale_c(const GemmArgs<T>& g) {
  for (int64_t i = 0; i < g.M; ++i)
    for (int64_t j = 0; j < g.N; ++j) {
      T& c = g.C[i * g.rs_c + j * g.cs_c];
      c = g.beta == T(0) ? T(0) : g.beta * c;
    }
}

// Below this many multiply-adds a second thread costs more than it saves.
constexpr int64_t kMinWorkPerThread = 64 * 64 * 64;

/// The whole gemm with at most `max_threads` threads: trivial cases, layout normalisation, work split.
template <typename T>
void gemm_impl(GemmArgs<T> g, int max_threads) {
  if (g.M <= 0 || g.N <= 0) return;
  if (g.K <= 0 || g.alpha == T(0)) {
    scale_c(g);
    return;
  }
  // The kernels write rows of C with unit column stride. A column-major C is the row-major C^T = B^T A^T.
  if (g.cs_c != 1 && g.rs_c == 1) {
    g = GemmArgs<T>{g.N, g.M, g.K, g.alpha, g.B, g.cs_b, g.rs_b, g.A, g.cs_a, g.rs_a, g.beta, g.C, g.cs_c, g.rs_c};
  }
  const GemmKernel<T> uk = kernel_for<T>(current_isa());

  int threads = max_threads;
#ifdef _OPENMP
  if (omp_in_parallel()) threads = 1;
#endif
  const int64_t work = g.M * g.N * g.K;
  threads = static_cast<int>(std::clamp<int64_t>(work / kMinWorkPerThread, 1, std::max(threads, 1)));
  if (threads == 1) {
    gemm_single_thread(uk, g);
    return;
  }

  // One slice of C per thread, cut on tile boundaries; each thread packs its own panels. Slicing the rows of C
  // makes every thread pack all of B (a plain copy when B is row-major) and slicing the columns all of A (a
  // transposition when A is row-major, the slower of the two), so rows are cut unless there are too few of them.
  const bool split_columns = g.M < int64_t{4} * uk.mr * threads && g.N > g.M;
  const int64_t extent = split_columns ? g.N : g.M;
  const int64_t tile = split_columns ? uk.nr : uk.mr;
  const int64_t tiles = (extent + tile - 1) / tile;
  threads = static_cast<int>(std::min<int64_t>(threads, tiles));
  auto run_slice = [&](int64_t slice) {
    const int64_t begin = std::min(extent, tiles * slice / threads * tile);
    const int64_t end = std::min(extent, tiles * (slice + 1) / threads * tile);
    if (begin >= end) return;
    GemmArgs<T> part = g;
    if (split_columns) {
      part.N = end - begin;
      part.B += begin * g.cs_b;
      part.C += begin * g.cs_c;
    } else {
      part.M = end - begin;
      part.A += begin * g.rs_a;
      part.C += begin * g.rs_c;
    }
    gemm_single_thread(uk, part);
  };
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int slice = 0; slice < threads; ++slice) run_slice(slice);
#else
  for (int slice = 0; slice < threads; ++slice) run_slice(slice);
#endif
}

}  // namespace

void gemm(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t rs_a, int64_t cs_a, const float* B,
          int64_t rs_b, int64_t cs_b, float beta, float* C, int64_t rs_c, int64_t cs_c) {
  gemm_impl<float>({M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c}, get_num_threads());
}

void gemm(int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t rs_a, int64_t cs_a,
          const double* B, int64_t rs_b, int64_t cs_b, double beta, double* C, int64_t rs_c, int64_t cs_c) {
  gemm_impl<double>({M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c}, get_num_threads());
}

const char* gemm_kernel_name() { return kIsaNames[static_cast<int>(current_isa())]; }

bool set_gemm_kernel(const char* name) {
  if (name == nullptr) {
    forced_isa.store(-1);
    return true;
  }
  for (int i = 0; i < 3; ++i) {
    if (std::strcmp(name, kIsaNames[i]) == 0) {
      if (!cpu_supports(static_cast<Isa>(i))) return false;
      forced_isa.store(i);
      return true;
    }
  }
  return false;
}

namespace ladder {

void sgemm_naive(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      float sum = 0.f;
      for (int64_t k = 0; k < K; ++k) sum += A[i * K + k] * B[k * N + j];
      C[i * N + j] = sum;
    }
}

void sgemm_blocked(int64_t M, int64_t N, int64_t K, const float* __restrict A, const float* __restrict B,
                   float* __restrict C) {
  // Tiles sized so that a block of B (kTileK x kTileN) stays in L2 and a row of it in L1; the innermost loop
  // runs along contiguous rows of B and C, which the compiler turns into vector multiply-adds.
  constexpr int64_t kTileM = 64, kTileN = 512, kTileK = 128;
  std::fill(C, C + M * N, 0.f);
  for (int64_t i0 = 0; i0 < M; i0 += kTileM) {
    const int64_t i1 = std::min(M, i0 + kTileM);
    for (int64_t k0 = 0; k0 < K; k0 += kTileK) {
      const int64_t k1 = std::min(K, k0 + kTileK);
      for (int64_t j0 = 0; j0 < N; j0 += kTileN) {
        const int64_t j1 = std::min(N, j0 + kTileN);
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t k = k0; k < k1; ++k) {
            const float a = A[i * K + k];
            const float* b_row = B + k * N;
            float* c_row = C + i * N;
            for (int64_t j = j0; j < j1; ++j) c_row[j] += a * b_row[j];
          }
      }
    }
  }
}

void sgemm_packed(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
  gemm_impl<float>({M, N, K, 1.f, A, K, 1, B, N, 1, 0.f, C, N, 1}, 1);
}

void sgemm_threaded(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
  gemm_impl<float>({M, N, K, 1.f, A, K, 1, B, N, 1, 0.f, C, N, 1}, get_num_threads());
}

}  // namespace ladder
}  // namespace tandem::cpu
