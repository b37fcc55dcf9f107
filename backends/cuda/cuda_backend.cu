// The CUDA backend object: its memory (the caching allocator of allocator.cu), host <-> device byte copies
// through pinned staging buffers, and the launch helpers of launch.cuh that need a definition.
#include <algorithm>
#include <mutex>

#include "backends/cuda/allocator.h"
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/launch.cuh"

namespace tandem::cuda {

namespace detail {

int multiprocessor_count() {
  static const int count = [] {
    int device = 0, sms = 0;
    TD_CUDA_CHECK(cudaGetDevice(&device));
    TD_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    return std::max(sms, 1);
  }();
  return count;
}

/// True when [p, p + nbytes) is device memory: a block of the caching allocator, or (memory the caller
/// allocated, e.g. wrapped by from_blob) whatever the driver reports as device or managed memory.
bool is_device_memory(const void* p, size_t nbytes) {
  if (device_allocator_owns(p, nbytes)) return true;
  cudaPointerAttributes attributes{};
  const cudaError_t status = cudaPointerGetAttributes(&attributes, p);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
}

void check_device_operand(const Strided& s, const char* op, const char* what) {
  if (s.numel() == 0) return;
  // The bytes the operand can touch: from its lowest to its highest element.
  int64_t low = 0, high = 0;
  for (size_t d = 0; d < s.ndim(); ++d) {
    const int64_t reach = (s.sizes[d] - 1) * s.strides[d];
    if (reach < 0) low += reach;
    else high += reach;
  }
  const int64_t element = static_cast<int64_t>(element_size(s.dtype));
  const char* first = static_cast<const char*>(s.data) + low * element;
  TD_CHECK(is_device_memory(first, static_cast<size_t>((high - low + 1) * element)), op, ": the ", what, " (shape ",
           s.sizes, ", ", s.dtype, ") is not in CUDA device memory; is a CPU tensor mixed with CUDA tensors? ",
           "Move it with .to(kCUDA)");
}

}  // namespace detail

CudaBackend& cuda_backend() {
  static CudaBackend backend;
  return backend;
}

void* CudaBackend::allocate(size_t nbytes) { return device_allocate(nbytes); }
void CudaBackend::deallocate(void* ptr, size_t) { device_deallocate(ptr); }

void CudaBackend::copy_from_host(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  TD_CHECK(detail::is_device_memory(dst, nbytes), "copy_from_host: the destination of ", nbytes,
           " bytes is not in CUDA device memory");
  copy_host_to_device(dst, src, nbytes);
}

void CudaBackend::copy_to_host(void* dst, const void* src, size_t nbytes) {
  if (nbytes == 0) return;
  TD_CHECK(detail::is_device_memory(src, nbytes), "copy_to_host: the source of ", nbytes,
           " bytes is not in CUDA device memory");
  copy_device_to_host(dst, src, nbytes);
}

}  // namespace tandem::cuda
