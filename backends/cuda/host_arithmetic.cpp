// How the CPU kernels of this build evaluate a * b + c. This file is compiled with the same flags as the CPU
// backend (it is a C++ file of the library, unlike the .cu files beside it): where the target has fused
// multiply-add instructions, the host compiler contracts such expressions into one FMA (a single rounding).
// The CUDA random kernel asks this so that it rounds exactly like backends/cpu/random.cpp and a seed gives the
// same bits on both devices.
namespace tandem::cuda::detail {

/// True when the CPU kernels compute a * b + c with one rounding (fused multiply-add).
bool host_fuses_multiply_add() {
#if defined(__FMA__)
  return true;
#else
  return false;
#endif
}

}  // namespace tandem::cuda::detail
