// Questions about CUDA devices that every build can answer, and the knobs of the CUDA backend. In a build
// without CUDA, or on a machine without a GPU, is_available() is false, device_count() is 0, the memory
// statistics are 0 and the knobs are accepted but change nothing.
#pragma once

#include <cstddef>

namespace tandem::cuda {

/// True when tandem was built with CUDA and at least one device is present.
bool is_available();
int device_count();
/// Waits for all work on the current device (no-op without CUDA). Throws tandem::Error if queued work failed.
void synchronize();

// ---- memory of the caching device allocator (bytes of blocks; see backends/cuda/allocator.h) ------------------
/// Bytes held by CUDA tensors now.
size_t memory_allocated();
/// Bytes taken from the device: held by tensors plus cached for reuse.
size_t memory_reserved();
/// The most bytes held by tensors at once since the start or the last reset_peak_memory_stats().
size_t max_memory_allocated();
void reset_peak_memory_stats();
/// Returns every cached (unused) block to the device; memory held by live tensors stays.
void empty_cache();

// ---- matrix products ------------------------------------------------------------------------------------------
/// Lets float32 matrix products on CUDA use TF32 tensor cores (10-bit mantissa inputs, float32 accumulation):
/// much faster, about 1e-3 relative error. Off by default, so that results track the CPU's.
void set_allow_tf32(bool allow);
bool allow_tf32();

}  // namespace tandem::cuda
