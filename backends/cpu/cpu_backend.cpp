// The CPU backend object, its registration, and its memory: a caching allocator that keeps freed blocks in
// size-binned free lists (power-of-two bins above 512 bytes), so that the many small, short-lived tensors of
// eager execution do not go to malloc each time. Blocks are 64-byte aligned for AVX-512 loads.
#include "backends/cpu/cpu_backend.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace tandem::cpu {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kMaxCachedBlock = size_t{64} << 20;  // larger blocks go straight back to the system

size_t bin_size(size_t nbytes) {
  if (nbytes <= 512) return (nbytes + 63) & ~size_t{63};
  size_t s = 1024;
  while (s < nbytes) s <<= 1;
  return s;
}

struct CachingAllocator {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  AllocatorStats stats;

  void* allocate(size_t nbytes) {
    if (nbytes == 0) nbytes = 1;
    size_t size = bin_size(nbytes);
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = free_blocks.find(size);
      if (it != free_blocks.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        note_alloc(size);
        return p;
      }
    }
    void* p = std::aligned_alloc(kAlignment, (size + kAlignment - 1) / kAlignment * kAlignment);
    TD_CHECK(p != nullptr, "cpu allocator: out of memory allocating ", size, " bytes");
    std::lock_guard<std::mutex> lock(mutex);
    stats.reserved += size;
    note_alloc(size);
    return p;
  }
  void deallocate(void* p, size_t nbytes) {
    if (!p) return;
    if (nbytes == 0) nbytes = 1;
    size_t size = bin_size(nbytes);
    std::lock_guard<std::mutex> lock(mutex);
    stats.allocated -= size;
    if (size > kMaxCachedBlock) {
      stats.reserved -= size;
      std::free(p);
      return;
    }
    free_blocks[size].push_back(p);
  }
  void note_alloc(size_t size) {
    stats.allocated += size;
    if (stats.allocated > stats.peak) stats.peak = stats.allocated;
  }
  void empty() {
    std::lock_guard<std::mutex> lock(mutex);
    for (auto& [size, blocks] : free_blocks) {
      for (void* p : blocks) std::free(p);
      stats.reserved -= size * blocks.size();
      blocks.clear();
    }
  }
};

CachingAllocator& allocator() {
  static auto* a = new CachingAllocator();  // never destroyed: tensors may outlive static destruction order
  return *a;
}

}  // namespace

CpuBackend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

void* CpuBackend::allocate(size_t nbytes) { return allocator().allocate(nbytes); }
void CpuBackend::deallocate(void* ptr, size_t nbytes) { allocator().deallocate(ptr, nbytes); }
void CpuBackend::copy_from_host(void* dst, const void* src, size_t nbytes) { std::memcpy(dst, src, nbytes); }
void CpuBackend::copy_to_host(void* dst, const void* src, size_t nbytes) { std::memcpy(dst, src, nbytes); }

AllocatorStats allocator_stats() {
  std::lock_guard<std::mutex> lock(allocator().mutex);
  return allocator().stats;
}
void empty_cache() { allocator().empty(); }

}  // namespace tandem::cpu
