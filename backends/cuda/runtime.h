// Questions about CUDA devices that every build can answer: in a build without CUDA, or on a machine without
// a GPU, is_available() is false and device_count() is 0.
#pragma once

namespace tandem::cuda {

/// True when tandem was built with CUDA and at least one device is present.
bool is_available();
int device_count();
/// Waits for all work on the current device (no-op without CUDA).
void synchronize();

}  // namespace tandem::cuda
