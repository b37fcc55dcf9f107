// The backend for each device type. The CPU backend is always there. The CUDA backend is there when tandem was
// built with CUDA and a device is present; otherwise asking for it is a tandem::Error that says why (no CUDA in
// this build, or no device present). A build without CUDA also gets the stubs of backends/cuda/runtime.h here.
#include <atomic>

#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cuda/runtime.h"
#ifdef TANDEM_HAS_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace tandem {

bool backend_available(DeviceType type) {
  if (type == DeviceType::CPU) return true;
  return cuda::is_available();
}

Backend& backend_for(DeviceType type) {
  if (type == DeviceType::CPU) return cpu::cpu_backend();
#ifdef TANDEM_HAS_CUDA
  TD_CHECK(cuda::is_available(), "device cuda: no CUDA device is present (cuda::is_available() is false)");
  return cuda::cuda_backend();
#else
  throw Error("device cuda: tandem was built without CUDA (cuda::is_available() is false)");
#endif
}

Backend& backend_for(Device device) {
  if (device.type == DeviceType::CPU) {
    TD_CHECK(device.index == 0, "device cpu:", device.index, ": there is one CPU device, index 0");
    return cpu::cpu_backend();
  }
  Backend& backend = backend_for(device.type);  // throws first when CUDA is not built or no device is present
  TD_CHECK(device.index >= 0 && device.index < cuda::device_count(), "device ", device, ": there are ",
           cuda::device_count(), " CUDA device(s), cuda:0 to cuda:", cuda::device_count() - 1);
  TD_CHECK(device.index == 0, "device ", device, ": the CUDA backend runs on cuda:0 only (",
           cuda::device_count(), " devices are present; select another one with CUDA_VISIBLE_DEVICES)");
  return backend;
}

#ifndef TANDEM_HAS_CUDA
namespace cuda {
namespace {
std::atomic<bool> tf32_allowed{false};
}  // namespace
bool is_available() { return false; }
int device_count() { return 0; }
void synchronize() {}
size_t memory_allocated() { return 0; }
size_t memory_reserved() { return 0; }
size_t max_memory_allocated() { return 0; }
void reset_peak_memory_stats() {}
void empty_cache() {}
void set_allow_tf32(bool allow) { tf32_allowed.store(allow); }
bool allow_tf32() { return tf32_allowed.load(); }
}  // namespace cuda
#endif

}  // namespace tandem
