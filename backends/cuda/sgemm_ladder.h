// The CUDA SGEMM ladder: the same single-precision product C = A @ B (row-major, C [m, n], A [m, k], B [k, n])
// written eight times, each version adding one well-known optimisation to the one before, plus cuBLAS in FP32
// and TF32 for comparison. bench/sgemm_cuda.cu times every rung and tutorials/09_sgemm_ladder explains them;
// the kernels themselves are in backends/cuda/sgemm_ladder_kernels.cuh. This header has no CUDA types, so plain
// C++ files may include it; it exists only in builds with CUDA (TANDEM_HAS_CUDA).
//
// These are teaching and benchmarking kernels: tandem's own matmul runs on cuBLAS (backends/cuda/matmul.cu).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::cuda::ladder {

/// The rungs of the ladder, numbered as in the tutorial.
enum class SgemmKernel {
  Naive = 1,            ///< one thread per entry of C, threads of a warp walk down a column: uncoalesced
  Coalesced = 2,        ///< one thread per entry, threads of a warp walk along a row: coalesced loads and stores
  SharedTiled = 3,      ///< 32x32 tiles of A and B staged in shared memory
  RegisterTiled1d = 4,  ///< each thread computes 8 entries of one column of C (1-D register tiling)
  RegisterTiled2d = 5,  ///< each thread computes an 8x8 block of C (2-D register tiling, outer products)
  Vectorized = 6,       ///< as 5, with float4 global loads and the A tile stored transposed in shared memory
  WarpTiled = 7,        ///< as 6, with the block tile split into warp tiles and each warp's into thread tiles
  DoubleBuffered = 8,   ///< as 7, with two shared-memory buffers: the next tile is fetched while this one is used
};

/// What describes a rung: its kernel, number, short name ("vectorized"), one-line summary, its tile shape and
/// the multiples that m, n and k must be (1 = any size).
struct SgemmKernelInfo {
  SgemmKernel kernel;
  int number;
  const char* name;
  const char* summary;
  int64_t threads_per_block;
  int64_t block_tile_m, block_tile_n;  ///< entries of C that one thread block computes
  int64_t multiple_m, multiple_n, multiple_k;
};

/// Every rung, in order.
const std::vector<SgemmKernelInfo>& sgemm_kernels();
const SgemmKernelInfo& sgemm_kernel_info(SgemmKernel kernel);

/// Empty when `kernel` handles the shape (m, n, k), else why not (sizes that are not multiples of its tiles).
std::string sgemm_unsupported_reason(SgemmKernel kernel, int64_t m, int64_t n, int64_t k);

/// C = A @ B with one ladder kernel. a, b, c are device pointers to dense row-major float32 matrices (b and c
/// 16-byte aligned for the float4 rungs, which holds for cudaMalloc'd and tandem tensor memory). The kernel is
/// queued on the backend's stream and not waited for. Throws tandem::Error on an unsupported shape or a
/// failed launch.
void sgemm(SgemmKernel kernel, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c);

/// C = A @ B with cuBLAS (same layout and stream): FP32 math, or TF32 tensor cores when `tf32` is set.
void sgemm_cublas(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c, bool tf32);

}  // namespace tandem::cuda::ladder
