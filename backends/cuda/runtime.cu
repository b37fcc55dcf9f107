// Device discovery through the CUDA runtime. A failing call (no driver, no device) counts as zero devices,
// so the same binary runs on machines without a GPU.
#include <cuda_runtime.h>

#include "backends/cuda/runtime.h"

namespace tandem::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return n;
}

bool is_available() { return device_count() > 0; }

void synchronize() {
  if (is_available()) (void)cudaDeviceSynchronize();
}

}  // namespace tandem::cuda
