// Device discovery through the CUDA runtime, and the backend's knobs. A failing call (no driver, no device)
// counts as zero devices, so the same binary runs on machines without a GPU.
#include <cuda_runtime.h>

#include <atomic>

#include "backends/cuda/allocator.h"
#include "backends/cuda/check.h"
#include "backends/cuda/runtime.h"

namespace tandem::cuda {

namespace {
std::atomic<bool> tf32_allowed{false};
}  // namespace

int device_count() {
  // Asked once: devices do not come and go during a run, and every CUDA op asks through is_available().
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();  // clear the error so later calls start clean
      return 0;
    }
    return n;
  }();
  return count;
}

bool is_available() { return device_count() > 0; }

void synchronize() {
  if (is_available()) TD_CUDA_CHECK(cudaDeviceSynchronize());
}

size_t memory_allocated() { return is_available() ? device_memory_stats().allocated : 0; }
size_t memory_reserved() { return is_available() ? device_memory_stats().reserved : 0; }
size_t max_memory_allocated() { return is_available() ? device_memory_stats().peak : 0; }
void reset_peak_memory_stats() {
  if (is_available()) device_reset_peak();
}
void empty_cache() {
  if (is_available()) device_empty_cache();
}

void set_allow_tf32(bool allow) { tf32_allowed.store(allow); }
bool allow_tf32() { return tf32_allowed.load(); }

}  // namespace tandem::cuda
