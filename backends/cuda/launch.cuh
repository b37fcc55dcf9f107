// What every kernel file of the CUDA backend shares: the stream, launch sizes, a scratch buffer from the caching
// allocator, the check that an operand really lives in device memory, and the strided offset calculator that
// turns a linear element index into per-operand offsets (after coalescing the operands' dims, like the CPU's
// backends/cpu/loops.h). Internal to backends/cuda.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>

#include "backends/backend.h"
#include "backends/cuda/allocator.h"
#include "backends/cuda/check.h"

namespace tandem::cuda::detail {

/// Dims an operand may have after coalescing (size-1 dims dropped, contiguous neighbours merged).
inline constexpr int kMaxDims = 16;
/// Threads per block of the element-wise style kernels.
inline constexpr int kBlockSize = 256;

/// The stream all work is queued on: the default (legacy) stream, which orders every kernel and copy. The .cu
/// files are compiled without per-thread default streams, so stream 0 is the legacy stream here and in cuBLAS.
inline cudaStream_t stream() { return nullptr; }

/// Multiprocessors of the current device (read once).
int multiprocessor_count();

/// Blocks for `items` work items of which one block takes `per_block`, capped for grid-stride loops.
inline unsigned int grid_for(int64_t items, int64_t per_block) {
  const int64_t wanted = (items + per_block - 1) / per_block;
  const int64_t cap = static_cast<int64_t>(multiprocessor_count()) * 32;
  return static_cast<unsigned int>(std::max<int64_t>(1, std::min(wanted, cap)));
}

/// True when [p, p + nbytes) lies in CUDA device memory.
bool is_device_memory(const void* p, size_t nbytes);

/// Throws tandem::Error naming `op` unless the operand's memory lies in CUDA device memory: a CPU tensor
/// handed to a CUDA kernel would otherwise be dereferenced on the device.
void check_device_operand(const Strided& s, const char* op, const char* what);

/// A temporary device buffer from the caching allocator, returned when it goes out of scope (the kernels that
/// use it are queued on the one stream, so the block is reused only after them).
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t nbytes) : ptr_(device_allocate(nbytes)) {}
  ~DeviceBuffer() { device_deallocate(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_;
};

/// N operands walked together over one shape: the coalesced dims (innermost first) and each operand's strides
/// in elements. `small` is set when every size and the element count fit in 32 bits, so that the index
/// arithmetic can use 32-bit divisions.
template <int N>
struct OffsetCalculator {
  int ndim = 0;
  bool small = true;
  int64_t size[kMaxDims] = {};
  int64_t stride[N][kMaxDims] = {};

  /// off[k] = offset (elements) of the element with row-major linear index `linear` in operand k.
  __device__ __forceinline__ void get(int64_t linear, int64_t (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    if (ndim == 1) {
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] = linear * stride[k][0];
      return;
    }
    if (small) {
      uint32_t rest = static_cast<uint32_t>(linear);
#pragma unroll
      for (int d = 0; d < kMaxDims; ++d) {
        if (d == ndim) break;
        const uint32_t s = static_cast<uint32_t>(size[d]);
        const uint32_t q = rest / s;
        const int64_t i = static_cast<int64_t>(rest - q * s);
#pragma unroll
        for (int k = 0; k < N; ++k) off[k] += i * stride[k][d];
        rest = q;
      }
    } else {
      int64_t rest = linear;
#pragma unroll
      for (int d = 0; d < kMaxDims; ++d) {
        if (d == ndim) break;
        const int64_t q = rest / size[d];
        const int64_t i = rest - q * size[d];
#pragma unroll
        for (int k = 0; k < N; ++k) off[k] += i * stride[k][d];
        rest = q;
      }
    }
  }

  /// True when every operand is one contiguous run (after coalescing).
  bool contiguous() const {
    if (ndim != 1) return false;
    for (int k = 0; k < N; ++k)
      if (stride[k][0] != 1 && size[0] != 1) return false;
    return true;
  }
};

/// Coalesces `sizes` walked with N stride vectors (elements): drops size-1 dims and merges a dim into its inner
/// neighbour when every operand steps over the inner one contiguously. `op` names the caller in errors.
template <int N>
OffsetCalculator<N> make_offset_calculator(const Dims& sizes, const std::array<const Dims*, N>& strides,
                                           const char* op) {
  OffsetCalculator<N> c;
  for (size_t d = sizes.size(); d-- > 0;) {
    if (sizes[d] == 1) continue;
    if (c.ndim > 0) {
      bool mergeable = true;
      for (int k = 0; k < N; ++k)
        mergeable = mergeable && c.stride[k][c.ndim - 1] * c.size[c.ndim - 1] == (*strides[k])[d];
      if (mergeable) {
        c.size[c.ndim - 1] *= sizes[d];
        continue;
      }
    }
    TD_CHECK(c.ndim < kMaxDims, op, ": the CUDA backend walks at most ", kMaxDims,
             " non-mergeable dims, got shape ", sizes);
    c.size[c.ndim] = sizes[d];
    for (int k = 0; k < N; ++k) c.stride[k][c.ndim] = (*strides[k])[d];
    ++c.ndim;
  }
  if (c.ndim == 0) {  // a single element
    c.ndim = 1;
    c.size[0] = 1;
    for (int k = 0; k < N; ++k) c.stride[k][0] = 1;
  }
  c.small = sizes.product() <= INT32_MAX;
  return c;
}

/// N elements of T loaded or stored as one aligned vector (float4-style accesses).
template <typename T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

/// True when p is aligned for Vec<T, N> accesses.
template <typename T, int N>
bool aligned_for_vec(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % (sizeof(T) * N) == 0;
}

}  // namespace tandem::cuda::detail
