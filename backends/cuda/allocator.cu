// The device caching allocator and the pinned staging copies declared in allocator.h.
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "backends/cuda/allocator.h"
#include "backends/cuda/check.h"
#include "backends/cuda/launch.cuh"

namespace tandem::cuda {
namespace {

class CachingAllocator {
 public:
  void* allocate(size_t nbytes) {
    const size_t size = rounded_block_size(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    if (void* p = take_cached(size)) return p;
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      release_cached();  // give the cache back to the device and try once more
      status = cudaMalloc(&p, size);
    }
    if (status != cudaSuccess) {
      (void)cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      (void)cudaMemGetInfo(&free_bytes, &total_bytes);
      (void)cudaGetLastError();
      throw Error(::tandem::detail::concat(
          "cuda allocator: cannot allocate ", nbytes, " bytes (block of ", size, " bytes): ", cudaGetErrorString(status),
          "; tandem holds ", stats_.allocated, " bytes in tensors and ", stats_.reserved - stats_.allocated,
          " bytes cached; the device has ", free_bytes, " of ", total_bytes, " bytes free"));
    }
    stats_.reserved += size;
    hand_out(p, size);
    return p;
  }

  void deallocate(void* p) {
    if (p == nullptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(reinterpret_cast<uintptr_t>(p));
    if (it == live_.end()) return;
    const size_t size = it->second;
    live_.erase(it);
    stats_.allocated -= size;
    if (size <= kSmallRequestLimit)
      small_free_[size].push_back(p);
    else
      large_free_.emplace(size, p);
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached();
  }

  DeviceMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak = stats_.allocated;
  }

  bool owns(const void* ptr, size_t nbytes) {
    const auto address = reinterpret_cast<uintptr_t>(ptr);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.upper_bound(address);  // the first block starting after ptr
    if (it == live_.begin()) return false;
    --it;
    return address + nbytes <= it->first + it->second;
  }

 private:
  /// A cached block for a request of (rounded) `size`, or null.
  void* take_cached(size_t size) {
    if (size <= kSmallRequestLimit) {
      auto it = small_free_.find(size);
      if (it == small_free_.end() || it->second.empty()) return nullptr;
      void* p = it->second.back();
      it->second.pop_back();
      hand_out(p, size);
      return p;
    }
    auto it = large_free_.lower_bound(size);  // best fit: the smallest cached block that is large enough
    if (it == large_free_.end() || it->first >= 2 * size) return nullptr;
    const size_t block = it->first;
    void* p = it->second;
    large_free_.erase(it);
    hand_out(p, block);
    return p;
  }

  void hand_out(void* p, size_t size) {
    live_.emplace(reinterpret_cast<uintptr_t>(p), size);
    stats_.allocated += size;
    stats_.peak = std::max(stats_.peak, stats_.allocated);
  }

  /// Frees every cached block (cudaFree waits for the device, so no queued kernel still uses them).
  void release_cached() {
    for (auto& [size, blocks] : small_free_) {
      for (void* p : blocks) {
        (void)cudaFree(p);
        stats_.reserved -= size;
      }
      blocks.clear();
    }
    for (auto& [size, p] : large_free_) {
      (void)cudaFree(p);
      stats_.reserved -= size;
    }
    large_free_.clear();
    (void)cudaGetLastError();
  }

  std::mutex mutex_;
  std::map<uintptr_t, size_t> live_;  // blocks handed out: address -> block size
  std::unordered_map<size_t, std::vector<void*>> small_free_;
  std::multimap<size_t, void*> large_free_;
  DeviceMemoryStats stats_;
};

CachingAllocator& allocator() {
  static auto* a = new CachingAllocator();  // never destroyed: tensors may be freed during static destruction
  return *a;
}

// ---------------------------------------------------------------------------------------------------------------
// Pinned staging
// ---------------------------------------------------------------------------------------------------------------
/// Two pinned buffers of kChunk bytes used alternately, each with an event marking when its last DMA is done.
class PinnedStaging {
 public:
  static constexpr size_t kChunk = size_t{4} << 20;

  void to_device(void* dst, const void* src, size_t nbytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    ensure_buffers();
    const char* from = static_cast<const char*>(src);
    char* to = static_cast<char*>(dst);
    int k = 0;
    for (size_t done = 0; done < nbytes; done += kChunk, k ^= 1) {
      const size_t len = std::min(kChunk, nbytes - done);
      TD_CUDA_CHECK(cudaEventSynchronize(done_[k]));  // the DMA that last read this buffer has finished
      std::memcpy(buffer_[k], from + done, len);
      TD_CUDA_CHECK(cudaMemcpyAsync(to + done, buffer_[k], len, cudaMemcpyHostToDevice, detail::stream()));
      TD_CUDA_CHECK(cudaEventRecord(done_[k], detail::stream()));
    }
    TD_CUDA_CHECK(cudaStreamSynchronize(detail::stream()));
  }

  void to_host(void* dst, const void* src, size_t nbytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    ensure_buffers();
    const char* from = static_cast<const char*>(src);
    char* to = static_cast<char*>(dst);
    // Chunk i is copied into buffer i % 2; while it travels, the previous chunk is copied out of the other one.
    size_t previous_offset = 0, previous_len = 0;
    int k = 0;
    for (size_t done = 0; done < nbytes; done += kChunk, k ^= 1) {
      const size_t len = std::min(kChunk, nbytes - done);
      TD_CUDA_CHECK(cudaMemcpyAsync(buffer_[k], from + done, len, cudaMemcpyDeviceToHost, detail::stream()));
      TD_CUDA_CHECK(cudaEventRecord(done_[k], detail::stream()));
      if (previous_len > 0) {
        TD_CUDA_CHECK(cudaEventSynchronize(done_[k ^ 1]));
        std::memcpy(to + previous_offset, buffer_[k ^ 1], previous_len);
      }
      previous_offset = done;
      previous_len = len;
    }
    if (previous_len > 0) {
      TD_CUDA_CHECK(cudaEventSynchronize(done_[k ^ 1]));
      std::memcpy(to + previous_offset, buffer_[k ^ 1], previous_len);
    }
  }

 private:
  void ensure_buffers() {
    if (buffer_[0] != nullptr) return;
    for (int k = 0; k < 2; ++k) {
      TD_CUDA_CHECK(cudaMallocHost(&buffer_[k], kChunk));
      TD_CUDA_CHECK(cudaEventCreateWithFlags(&done_[k], cudaEventDisableTiming));
      TD_CUDA_CHECK(cudaEventRecord(done_[k], detail::stream()));  // "finished" before the first use
    }
  }

  std::mutex mutex_;
  void* buffer_[2] = {nullptr, nullptr};
  cudaEvent_t done_[2] = {};
};

PinnedStaging& staging() {
  static auto* s = new PinnedStaging();  // never destroyed, like the allocator
  return *s;
}

}  // namespace

void* device_allocate(size_t nbytes) { return allocator().allocate(nbytes); }
void device_deallocate(void* ptr) { allocator().deallocate(ptr); }
void device_empty_cache() { allocator().empty_cache(); }
DeviceMemoryStats device_memory_stats() { return allocator().stats(); }
void device_reset_peak() { allocator().reset_peak(); }
bool device_allocator_owns(const void* ptr, size_t nbytes) { return allocator().owns(ptr, nbytes); }

void copy_host_to_device(void* dst, const void* src, size_t nbytes) {
  if (nbytes > 0) staging().to_device(dst, src, nbytes);
}
void copy_device_to_host(void* dst, const void* src, size_t nbytes) {
  if (nbytes > 0) staging().to_host(dst, src, nbytes);
}

}  // namespace tandem::cuda
