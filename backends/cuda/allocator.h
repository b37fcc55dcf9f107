// The CUDA backend's memory: a caching allocator for device memory and pinned host staging buffers for copies
// between the host and the device.
//
// Device memory. cudaMalloc and cudaFree are slow (cudaFree also waits for the whole device), and eager
// execution frees and allocates tensors of the same few sizes over and over. So freed blocks are kept in free
// lists and handed out again:
//   * small requests (up to kSmallRequestLimit) are rounded up to a multiple of 512 bytes and binned by that
//     exact size;
//   * large requests are rounded up to a multiple of 2 MiB and served best-fit from their own pool, taking a
//     cached block only when it is less than twice the rounded request (so a huge block is not tied up by a
//     small tensor).
// Every kernel of the backend runs on one stream, so a block freed on the host may be handed out again at once:
// the next user's kernels are queued behind the previous user's. When cudaMalloc fails, the cached blocks are
// released and the allocation is tried once more before the error (which names the sizes involved).
//
// Statistics are in bytes of blocks (the rounded sizes): `allocated` is handed out and not yet returned,
// `reserved` is held from the device (handed out + cached), `peak` the maximum of `allocated` since the last
// reset_peak().
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::cuda {

/// Byte counts of the device caching allocator (see the top of this file).
struct DeviceMemoryStats {
  size_t allocated = 0;
  size_t reserved = 0;
  size_t peak = 0;
};

/// Requests up to this many bytes go to the small pool (512-byte bins); larger ones to the large pool.
inline constexpr size_t kSmallRequestLimit = size_t{1} << 20;
/// Rounding of small and large requests.
inline constexpr size_t kSmallRounding = 512;
inline constexpr size_t kLargeRounding = size_t{2} << 20;

/// The size of the block that serves a request of `nbytes` (before best-fit reuse of a larger cached block).
inline size_t rounded_block_size(size_t nbytes) {
  if (nbytes == 0) nbytes = 1;
  const size_t unit = nbytes <= kSmallRequestLimit ? kSmallRounding : kLargeRounding;
  return (nbytes + unit - 1) / unit * unit;
}

/// Device memory for `nbytes` (never null; throws tandem::Error when the device is out of memory).
void* device_allocate(size_t nbytes);
/// Returns a block from device_allocate to the cache. Unknown pointers are ignored.
void device_deallocate(void* ptr);
/// Releases every cached (unused) block to the device.
void device_empty_cache();
DeviceMemoryStats device_memory_stats();
/// Sets the peak back to the bytes allocated now.
void device_reset_peak();
/// True when [ptr, ptr + nbytes) lies inside a block handed out by the allocator and not yet freed.
bool device_allocator_owns(const void* ptr, size_t nbytes);

/// Copies through pinned staging buffers (double-buffered, so the host copy of one chunk overlaps the DMA of
/// the next), and waits until the data has arrived.
void copy_host_to_device(void* dst, const void* src, size_t nbytes);
void copy_device_to_host(void* dst, const void* src, size_t nbytes);

}  // namespace tandem::cuda
