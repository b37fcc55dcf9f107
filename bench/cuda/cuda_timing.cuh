// What the CUDA benchmark programs (bench/*.cu) share: timing of GPU work with CUDA events, the check of a
// result against a reference on the device, and the main() that says "no CUDA device" and exits 0 on a machine
// without a GPU.
//
// Timing. Each measured call is queued behind a short spin kernel that keeps the GPU busy for ~50 us, so that
// the start event, the work and the stop event are all queued before the GPU reaches them: the time between the
// events is the GPU's time for the work, without the host's launch latency (which would otherwise dominate
// kernels of a few microseconds). The host-side cost of a call (tandem's dispatch and allocation) is hidden as
// long as it is shorter than the spin; the programs that measure it (bench_eager_overhead) are separate.
// All work goes to the legacy default stream, tandem's stream.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "backends/cuda/check.h"
#include "backends/cuda/runtime.h"

namespace tandem_bench {

/// Busy-waits on the GPU for `cycles` clock cycles (one thread).
__global__ void spin_kernel(long long cycles) {
  const long long start = clock64();
  while (clock64() - start < cycles) {
  }
}

/// Clock cycles of ~50 us on the current device.
inline long long spin_cycles() {
  static const long long cycles = [] {
    int device = 0, khz = 0;
    TD_CUDA_CHECK(cudaGetDevice(&device));
    if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, device) != cudaSuccess || khz <= 0) {
      (void)cudaGetLastError();
      khz = 2'000'000;  // assume 2 GHz when the driver does not say
    }
    return static_cast<long long>(khz) * 50 / 1000;
  }();
  return cycles;
}

/// A pair of CUDA events that times work queued on the default stream.
class EventTimer {
 public:
  EventTimer() {
    TD_CUDA_CHECK(cudaEventCreate(&start_));
    TD_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~EventTimer() {
    (void)cudaEventDestroy(start_);
    (void)cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  /// Seconds the GPU spent on the work that `queue_work()` queues (see the top of this file).
  template <typename QueueWork>
  double seconds(QueueWork&& queue_work) {
    spin_kernel<<<1, 1>>>(spin_cycles());
    TD_CUDA_CHECK_LAUNCH("spin_kernel");
    TD_CUDA_CHECK(cudaEventRecord(start_, nullptr));
    queue_work();
    TD_CUDA_CHECK(cudaEventRecord(stop_, nullptr));
    TD_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.f;
    TD_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return static_cast<double>(ms) * 1e-3;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

/// Runs the benchmark loop: each iteration times one `queue_work()` with events and reports it as the
/// iteration's manual time. Returns the mean seconds per iteration.
template <typename QueueWork>
double timed_loop(benchmark::State& state, QueueWork&& queue_work) {
  EventTimer timer;
  queue_work();  // warm-up: first-use costs (module load, cuBLAS heuristics, allocator growth) stay out
  TD_CUDA_CHECK(cudaDeviceSynchronize());
  double total = 0;
  int64_t count = 0;
  for (auto _ : state) {
    const double s = timer.seconds(queue_work);
    state.SetIterationTime(s);
    total += s;
    ++count;
  }
  return count > 0 ? total / static_cast<double>(count) : 0.0;
}

/// Per element: e = |actual - expected| / (scale + tiny); the largest e of all elements (a NaN or infinite
/// entry counts as +inf) is atomically max-ed into *out as the bits of a non-negative float, whose unsigned
/// order is the numeric order.
__global__ void max_scaled_error_kernel(const float* actual, const float* expected, const float* scale,
                                        long long count, unsigned int* out) {
  float worst = 0.f;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    float e = fabsf(actual[i] - expected[i]) / (fabsf(scale[i]) + 1e-30f);
    if (!(e <= 3.0e38f)) e = INFINITY;
    worst = fmaxf(worst, e);
  }
  atomicMax(out, __float_as_uint(worst));
}

/// max_i |actual_i - expected_i| / |scale_i| over `count` device floats (+inf when any is NaN or infinite).
inline double max_scaled_error(const float* actual, const float* expected, const float* scale, long long count) {
  unsigned int* result = nullptr;
  TD_CUDA_CHECK(cudaMalloc(&result, sizeof(unsigned int)));
  TD_CUDA_CHECK(cudaMemset(result, 0, sizeof(unsigned int)));
  max_scaled_error_kernel<<<1024, 256>>>(actual, expected, scale, count, result);
  TD_CUDA_CHECK_LAUNCH("max_scaled_error_kernel");
  unsigned int bits = 0;
  TD_CUDA_CHECK(cudaMemcpy(&bits, result, sizeof(unsigned int), cudaMemcpyDeviceToHost));
  TD_CUDA_CHECK(cudaFree(result));
  float value = 0.f;
  static_assert(sizeof(value) == sizeof(bits));
  std::memcpy(&value, &bits, sizeof(value));
  return static_cast<double>(value);
}

/// Set by a benchmark whose result was wrong; main() then exits with status 1.
inline bool& any_wrong_result() {
  static bool wrong = false;
  return wrong;
}

/// Marks the benchmark as failed with `message` (shown in the table and the JSON) and remembers the failure.
inline void fail(benchmark::State& state, const std::string& message) {
  any_wrong_result() = true;
  state.SkipWithError(message.c_str());
}

/// The main() of a CUDA benchmark program: without a device it says so and exits 0; otherwise it prints the
/// device, runs the registered benchmarks (register_benchmarks() is called first) and exits 1 if any result was
/// wrong.
template <typename Register>
int cuda_benchmark_main(int argc, char** argv, const char* program, Register&& register_benchmarks) {
  if (!tandem::cuda::is_available()) {
    std::printf("%s: no CUDA device is present (tandem::cuda::is_available() is false); nothing to measure.\n",
                program);
    return 0;
  }
  try {
    cudaDeviceProp prop{};
    TD_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    int runtime = 0, driver = 0;
    TD_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
    TD_CUDA_CHECK(cudaDriverGetVersion(&driver));
    std::printf("%s on %s (sm_%d%d, %d SMs), CUDA runtime %d.%d, driver API %d.%d\n", program, prop.name,
                prop.major, prop.minor, prop.multiProcessorCount, runtime / 1000, runtime % 1000 / 10,
                driver / 1000, driver % 1000 / 10);
    benchmark::AddCustomContext("cuda_device", prop.name);
    benchmark::AddCustomContext("cuda_runtime", std::to_string(runtime / 1000) + "." +
                                                    std::to_string(runtime % 1000 / 10));
    register_benchmarks();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (any_wrong_result()) {
    std::fprintf(stderr, "%s: at least one benchmark produced a wrong result or failed (see the errors above)\n",
                 program);
    return 1;
  }
  return 0;
}

}  // namespace tandem_bench
