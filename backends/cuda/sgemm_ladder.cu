// Launchers of the SGEMM ladder (sgemm_ladder.h): the table of rungs, the shape checks, the launch
// configuration of each kernel of sgemm_ladder_kernels.cuh, and the cuBLAS rows (FP32 and TF32) that the
// ladder is measured against.
#include <climits>
#include <mutex>

#include "backends/cuda/check.h"
#include "backends/cuda/launch.cuh"
#include "backends/cuda/sgemm_ladder.h"
#include "backends/cuda/sgemm_ladder_kernels.cuh"

namespace tandem::cuda::ladder {

namespace {

namespace k = kernels;

/// The process-wide cuBLAS handle of the ladder (created on first use, on the backend's stream; never
/// destroyed, as the CUDA context may be gone at exit) and the lock that serialises its use.
struct LadderCublas {
  std::mutex mutex;
  cublasHandle_t handle = nullptr;
};

LadderCublas& ladder_cublas() {
  static auto* c = [] {
    auto* created = new LadderCublas();
    TD_CUBLAS_CHECK(cublasCreate(&created->handle));
    TD_CUBLAS_CHECK(cublasSetStream(created->handle, detail::stream()));
    return created;
  }();
  return *c;
}

unsigned int blocks(int64_t extent, int64_t tile) { return static_cast<unsigned int>((extent + tile - 1) / tile); }

void check_operands(const char* op, int64_t m, int64_t n, int64_t k, const float* a, const float* b, const float* c) {
  TD_CHECK(m > 0 && n > 0 && k > 0, op, ": sizes must be positive, got m = ", m, ", n = ", n, ", k = ", k);
  TD_CHECK(m * k <= INT_MAX && k * n <= INT_MAX && m * n <= INT_MAX, op, ": m = ", m, ", n = ", n, ", k = ", k,
           " gives a matrix of more than 2^31 - 1 elements (the ladder kernels index with 32-bit ints)");
  TD_CHECK(a != nullptr && b != nullptr && c != nullptr, op, ": a null matrix pointer");
}

}  // namespace

const std::vector<SgemmKernelInfo>& sgemm_kernels() {
  using W = k::WarpTiling;
  static const std::vector<SgemmKernelInfo> table = {
      {SgemmKernel::Naive, 1, "naive", "one thread per entry; a warp walks down a column (uncoalesced)", 32 * 32,
       32, 32, 1, 1, 1},
      {SgemmKernel::Coalesced, 2, "coalesced", "one thread per entry; a warp walks along a row (coalesced)",
       32 * 32, 32, 32, 1, 1, 1},
      {SgemmKernel::SharedTiled, 3, "shared_tiled", "32x32 tiles of A and B staged in shared memory", 32 * 32,
       k::kSharedTile, k::kSharedTile, 1, 1, 1},
      {SgemmKernel::RegisterTiled1d, 4, "register_tiled_1d", "each thread computes 8 entries of a column",
       k::k1dThreads, k::k1dBM, k::k1dBN, k::k1dBM, k::k1dBN, k::k1dBK},
      {SgemmKernel::RegisterTiled2d, 5, "register_tiled_2d", "each thread computes an 8x8 block (outer products)",
       k::k2dThreads, k::k2dBM, k::k2dBN, k::k2dBM, k::k2dBN, k::k2dBK},
      {SgemmKernel::Vectorized, 6, "vectorized", "float4 global loads, A tile transposed in shared memory",
       k::kVecThreads, k::kVecBM, k::kVecBN, k::kVecBM, k::kVecBN, k::kVecBK},
      {SgemmKernel::WarpTiled, 7, "warp_tiled", "block tile split into warp tiles of 4x4 thread tiles", W::threads,
       W::BM, W::BN, W::BM, W::BN, W::BK},
      {SgemmKernel::DoubleBuffered, 8, "double_buffered", "two shared buffers: next tile loads during this one",
       W::threads, W::BM, W::BN, W::BM, W::BN, W::BK},
  };
  return table;
}

const SgemmKernelInfo& sgemm_kernel_info(SgemmKernel kernel) {
  for (const SgemmKernelInfo& info : sgemm_kernels())
    if (info.kernel == kernel) return info;
  throw Error(::tandem::detail::concat("sgemm ladder: unknown kernel number ", static_cast<int>(kernel)));
}

std::string sgemm_unsupported_reason(SgemmKernel kernel, int64_t m, int64_t n, int64_t k) {
  const SgemmKernelInfo& info = sgemm_kernel_info(kernel);
  if (m % info.multiple_m == 0 && n % info.multiple_n == 0 && k % info.multiple_k == 0) return {};
  return ::tandem::detail::concat("kernel ", info.number, " (", info.name, ") needs m a multiple of ", info.multiple_m,
                                  ", n of ", info.multiple_n, " and k of ", info.multiple_k, "; got m = ", m,
                                  ", n = ", n, ", k = ", k);
}

void sgemm(SgemmKernel kernel, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  check_operands("sgemm ladder", m, n, k, a, b, c);
  const std::string unsupported = sgemm_unsupported_reason(kernel, m, n, k);
  TD_CHECK(unsupported.empty(), "sgemm ladder: ", unsupported);
  const int M = static_cast<int>(m), N = static_cast<int>(n), K = static_cast<int>(k);
  const cudaStream_t s = detail::stream();
  switch (kernel) {
    case SgemmKernel::Naive:
      k::sgemm_naive<<<dim3(blocks(m, 32), blocks(n, 32)), dim3(32, 32), 0, s>>>(M, N, K, a, b, c);
      TD_CUDA_CHECK_LAUNCH("sgemm_naive");
      return;
    case SgemmKernel::Coalesced:
      k::sgemm_coalesced<<<dim3(blocks(n, 32), blocks(m, 32)), dim3(32, 32), 0, s>>>(M, N, K, a, b, c);
      TD_CUDA_CHECK_LAUNCH("sgemm_coalesced");
      return;
    case SgemmKernel::SharedTiled:
      k::sgemm_shared_tiled<<<dim3(blocks(n, k::kSharedTile), blocks(m, k::kSharedTile)),
                              dim3(k::kSharedTile, k::kSharedTile), 0, s>>>(M, N, K, a, b, c);
      TD_CUDA_CHECK_LAUNCH("sgemm_shared_tiled");
      return;
    case SgemmKernel::RegisterTiled1d:
      k::sgemm_register_tiled_1d<<<dim3(blocks(n, k::k1dBN), blocks(m, k::k1dBM)), k::k1dThreads, 0, s>>>(M, N, K, a,
                                                                                                         b, c);
      TD_CUDA_CHECK_LAUNCH("sgemm_register_tiled_1d");
      return;
    case SgemmKernel::RegisterTiled2d:
      k::sgemm_register_tiled_2d<<<dim3(blocks(n, k::k2dBN), blocks(m, k::k2dBM)), k::k2dThreads, 0, s>>>(M, N, K, a,
                                                                                                         b, c);
      TD_CUDA_CHECK_LAUNCH("sgemm_register_tiled_2d");
      return;
    case SgemmKernel::Vectorized:
      k::sgemm_vectorized<<<dim3(blocks(n, k::kVecBN), blocks(m, k::kVecBM)), k::kVecThreads, 0, s>>>(M, N, K, a, b,
                                                                                                     c);
      TD_CUDA_CHECK_LAUNCH("sgemm_vectorized");
      return;
    case SgemmKernel::WarpTiled:
      k::sgemm_warp_tiled<<<dim3(blocks(n, k::WarpTiling::BN), blocks(m, k::WarpTiling::BM)), k::WarpTiling::threads,
                            0, s>>>(M, N, K, a, b, c);
      TD_CUDA_CHECK_LAUNCH("sgemm_warp_tiled");
      return;
    case SgemmKernel::DoubleBuffered:
      k::sgemm_double_buffered<<<dim3(blocks(n, k::WarpTiling::BN), blocks(m, k::WarpTiling::BM)),
                                 k::WarpTiling::threads, 0, s>>>(M, N, K, a, b, c);
      TD_CUDA_CHECK_LAUNCH("sgemm_double_buffered");
      return;
  }
  throw Error(::tandem::detail::concat("sgemm ladder: unknown kernel number ", static_cast<int>(kernel)));
}

void sgemm_cublas(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c, bool tf32) {
  check_operands("sgemm_cublas", m, n, k, a, b, c);
  LadderCublas& blas = ladder_cublas();
  std::lock_guard<std::mutex> lock(blas.mutex);
  const float one = 1.f, zero = 0.f;
  // Row-major C = A B is column-major C^T = B^T A^T: cuBLAS computes the n x m matrix C^T from B^T (n x k,
  // leading dimension n) and A^T (k x m, leading dimension k), with no transposition.
  TD_CUBLAS_CHECK(cublasGemmEx(blas.handle, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                               static_cast<int>(k), &one, b, CUDA_R_32F, static_cast<int>(n), a, CUDA_R_32F,
                               static_cast<int>(k), &zero, c, CUDA_R_32F, static_cast<int>(n),
                               tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace tandem::cuda::ladder
