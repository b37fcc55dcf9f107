// Error checking for the CUDA backend: every CUDA runtime or cuBLAS call goes through TD_CUDA_CHECK /
// TD_CUBLAS_CHECK, which turn a failure into a tandem::Error naming the call as written, where it was made
// (file:line) and the library's own description of the error. Kernel launches are followed by
// TD_CUDA_CHECK_LAUNCH(), which reports launch failures (bad configuration, missing kernel image) the same way.
// Included only by the CUDA translation units (it needs the CUDA headers).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "backends/types.h"

namespace tandem::cuda::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  (void)cudaGetLastError();  // clear a non-sticky error so that later calls start clean
  throw Error(::tandem::detail::concat("CUDA error: ", call, " failed at ", file, ":", line, ": ",
                                       cudaGetErrorName(status), " (", cudaGetErrorString(status), ")"));
}

inline const char* cublas_status_text(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED (cuBLAS could not be initialised)";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED (out of device memory)";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE (an argument is out of range)";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH (the device lacks a needed feature)";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED (a kernel failed to run)";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "unknown cuBLAS status";
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw Error(::tandem::detail::concat("cuBLAS error: ", call, " failed at ", file, ":", line, ": ",
                                       cublas_status_text(status), " (status ", static_cast<int>(status), ")"));
}

}  // namespace tandem::cuda::detail

/// Evaluates a CUDA runtime call and throws tandem::Error (call text, file:line, CUDA's message) if it fails.
#define TD_CUDA_CHECK(call)                                                                     \
  do {                                                                                          \
    const cudaError_t td_cuda_status_ = (call);                                                 \
    if (td_cuda_status_ != cudaSuccess)                                                         \
      ::tandem::cuda::detail::throw_cuda_error(td_cuda_status_, #call, __FILE__, __LINE__);    \
  } while (0)

/// Evaluates a cuBLAS call and throws tandem::Error (call text, file:line, cuBLAS status) if it fails.
#define TD_CUBLAS_CHECK(call)                                                                   \
  do {                                                                                          \
    const cublasStatus_t td_cublas_status_ = (call);                                            \
    if (td_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                             \
      ::tandem::cuda::detail::throw_cublas_error(td_cublas_status_, #call, __FILE__, __LINE__); \
  } while (0)

/// Checks the launch of the kernel just issued (configuration errors surface here, not in the kernel);
/// `kernel` is a string literal naming it.
#define TD_CUDA_CHECK_LAUNCH(kernel)                                                            \
  do {                                                                                          \
    const cudaError_t td_cuda_status_ = cudaPeekAtLastError();                                  \
    if (td_cuda_status_ != cudaSuccess)                                                         \
      ::tandem::cuda::detail::throw_cuda_error(td_cuda_status_, "launch of kernel " kernel,     \
                                               __FILE__, __LINE__);                            \
  } while (0)
