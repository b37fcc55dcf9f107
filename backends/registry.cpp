// The backend for each device type. The CPU backend is always there. The CUDA backend's kernels arrive with
// the CUDA backend itself; until a build provides them, asking for the CUDA backend is a tandem::Error that
// says why (no CUDA in this build, no device present, or no CUDA kernels in this build).
#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cuda/runtime.h"

namespace tandem {

bool backend_available(DeviceType type) { return type == DeviceType::CPU; }

Backend& backend_for(DeviceType type) {
  if (type == DeviceType::CPU) return cpu::cpu_backend();
#ifdef TANDEM_HAS_CUDA
  TD_CHECK(cuda::is_available(), "device cuda: no CUDA device is present (cuda::is_available() is false)");
  throw Error("device cuda: this build of tandem has no CUDA kernels; tensors stay on the CPU");
#else
  throw Error("device cuda: tandem was built without CUDA (cuda::is_available() is false)");
#endif
}

#ifndef TANDEM_HAS_CUDA
namespace cuda {
bool is_available() { return false; }
int device_count() { return 0; }
void synchronize() {}
}  // namespace cuda
#endif

}  // namespace tandem
