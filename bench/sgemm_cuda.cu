// The CUDA SGEMM ladder: what each optimisation step buys on square single-precision products C = A @ B, next
// to cuBLAS. Rows, in the order they run:
//   sgemm_cublas_fp32        cuBLAS, FP32 math (the reference for pct_of_cublas)        n = 128 .. 8192
//   sgemm_cublas_tf32        cuBLAS, TF32 tensor cores                                  n = 128 .. 8192
//   sgemm_<r>_<name>         rung r of backends/cuda/sgemm_ladder_kernels.cuh:           n = 128 .. 8192
//                            1 naive (n <= 2048), 2 coalesced, 3 shared_tiled, 4 register_tiled_1d,
//                            5 register_tiled_2d, 6 vectorized, 7 warp_tiled, 8 double_buffered
// Counters: GFLOP/s (2 n^3 per product over the GPU time between CUDA events), pct_of_cublas (the row's speed
// as a percentage of cuBLAS FP32 at the same n, measured earlier in the same run, or on demand when that row
// is filtered out), max_rel_err (the check below).
//
// Check before timing: every row first computes C once into a NaN-filled buffer and compares it with the cuBLAS
// FP32 result R on the same random operands (A, B ~ N(0, 1)). The error measure is
//     max over (i, j) of |C_ij - R_ij| / (|A| |B|)_ij,
// the error relative to the sum of the magnitudes of the products that make up the entry, which does not blow
// up where C_ij is near zero. FP32 rows must stay within 1e-5 (about 170 units in the last place; a correct
// kernel is at a few units), the TF32 row within 2e-3 (TF32 keeps 10 mantissa bits, so each product may be off
// by 2^-10). An unwritten entry stays NaN and fails. A failing row stops with an error and the program exits 1.
//
// Run through scripts/bench_gpu.sh (JSON + markdown table + plot), or alone:
//   bench_sgemm_cuda [--benchmark_filter=sgemm_(cublas|6)]
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "backends/cuda/sgemm_ladder.h"
#include "cuda/cuda_timing.cuh"
#include "tandem.h"

namespace {

namespace td = tandem;
namespace ladder = tandem::cuda::ladder;
using tandem_bench::fail;

constexpr double kFp32Tolerance = 1e-5;
constexpr double kTf32Tolerance = 2e-3;
constexpr int64_t kSizes[] = {128, 256, 512, 1024, 2048, 4096, 8192};
/// The naive kernel takes minutes above this size.
constexpr int64_t kNaiveMaxSize = 2048;

td::TensorOptions on_gpu() { return td::TensorOptions(td::kFloat32).device(td::kCUDA); }

/// The operands of one size, made once: A and B, R = A @ B from cuBLAS FP32, and |A| @ |B| (the error scale).
struct Problem {
  td::Tensor a, b, reference, scale;
};

const Problem& problem(int64_t n) {
  static std::map<int64_t, Problem> cache;
  if (auto it = cache.find(n); it != cache.end()) return it->second;
  td::manual_seed(static_cast<uint64_t>(n));
  Problem p;
  p.a = td::randn({n, n}, on_gpu());
  p.b = td::randn({n, n}, on_gpu());
  p.reference = td::empty({n, n}, on_gpu());
  p.scale = td::empty({n, n}, on_gpu());
  const td::Tensor abs_a = p.a.abs(), abs_b = p.b.abs();
  ladder::sgemm_cublas(n, n, n, p.a.data_ptr<float>(), p.b.data_ptr<float>(), p.reference.data_ptr<float>(), false);
  ladder::sgemm_cublas(n, n, n, abs_a.data_ptr<float>(), abs_b.data_ptr<float>(), p.scale.data_ptr<float>(), false);
  td::cuda::synchronize();
  return cache.emplace(n, std::move(p)).first->second;
}

/// Seconds of one cuBLAS FP32 product of size n in this run: recorded by the sgemm_cublas_fp32 row, or measured
/// here (median of 9) when that row did not run.
std::map<int64_t, double>& cublas_fp32_seconds() {
  static std::map<int64_t, double> seconds;
  return seconds;
}

double cublas_fp32_reference_seconds(int64_t n) {
  auto& known = cublas_fp32_seconds();
  if (auto it = known.find(n); it != known.end()) return it->second;
  const Problem& p = problem(n);
  td::Tensor c = td::empty({n, n}, on_gpu());
  auto multiply = [&] {
    ladder::sgemm_cublas(n, n, n, p.a.data_ptr<float>(), p.b.data_ptr<float>(), c.data_ptr<float>(), false);
  };
  tandem_bench::EventTimer timer;
  multiply();
  std::vector<double> samples;
  for (int i = 0; i < 9; ++i) samples.push_back(timer.seconds(multiply));
  std::sort(samples.begin(), samples.end());
  return known[n] = samples[samples.size() / 2];
}

/// Checks one product of size n computed by `multiply(a, b, c)` (device pointers), then times it.
template <typename Multiply>
void run_product(benchmark::State& state, double tolerance, bool is_cublas_fp32, Multiply&& multiply) {
  const int64_t n = state.range(0);
  try {
    const Problem& p = problem(n);
    td::Tensor c = td::empty({n, n}, on_gpu());
    const float* a = p.a.data_ptr<float>();
    const float* b = p.b.data_ptr<float>();
    float* out = c.data_ptr<float>();
    TD_CUDA_CHECK(cudaMemset(out, 0xFF, static_cast<size_t>(n * n) * sizeof(float)));  // all NaN
    multiply(a, b, out);
    const double error = tandem_bench::max_scaled_error(out, p.reference.data_ptr<float>(),
                                                        p.scale.data_ptr<float>(), n * n);
    if (!(error <= tolerance)) {
      fail(state, "wrong result at n = " + std::to_string(n) + ": max |C - C_cublas| / (|A||B|) = " +
                      std::to_string(error) + " exceeds " + std::to_string(tolerance));
      return;
    }
    const double seconds = tandem_bench::timed_loop(state, [&] { multiply(a, b, out); });
    if (is_cublas_fp32) cublas_fp32_seconds()[n] = seconds;
    const double reference = cublas_fp32_reference_seconds(n);
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(n * n) * static_cast<double>(n) * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
    state.counters["pct_of_cublas"] = seconds > 0 ? 100.0 * reference / seconds : 0.0;
    state.counters["max_rel_err"] = error;
  } catch (const std::exception& e) {
    fail(state, e.what());
  }
}

void configure(benchmark::internal::Benchmark* b, int64_t max_size) {
  for (int64_t n : kSizes)
    if (n <= max_size) b->Args({n});
  b->ArgNames({"n"})->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(0.2);
}

void register_benchmarks() {
  configure(benchmark::RegisterBenchmark("sgemm_cublas_fp32",
                                         [](benchmark::State& state) {
                                           const int64_t n = state.range(0);
                                           run_product(state, kFp32Tolerance, true,
                                                       [n](const float* a, const float* b, float* c) {
                                                         ladder::sgemm_cublas(n, n, n, a, b, c, false);
                                                       });
                                         }),
            kSizes[std::size(kSizes) - 1]);
  configure(benchmark::RegisterBenchmark("sgemm_cublas_tf32",
                                         [](benchmark::State& state) {
                                           const int64_t n = state.range(0);
                                           run_product(state, kTf32Tolerance, false,
                                                       [n](const float* a, const float* b, float* c) {
                                                         ladder::sgemm_cublas(n, n, n, a, b, c, true);
                                                       });
                                         }),
            kSizes[std::size(kSizes) - 1]);
  for (const ladder::SgemmKernelInfo& info : ladder::sgemm_kernels()) {
    const std::string name = "sgemm_" + std::to_string(info.number) + "_" + info.name;
    const ladder::SgemmKernel kernel = info.kernel;
    configure(benchmark::RegisterBenchmark(name.c_str(),
                                           [kernel](benchmark::State& state) {
                                             const int64_t n = state.range(0);
                                             run_product(state, kFp32Tolerance, false,
                                                         [n, kernel](const float* a, const float* b, float* c) {
                                                           ladder::sgemm(kernel, n, n, n, a, b, c);
                                                         });
                                           }),
              kernel == ladder::SgemmKernel::Naive ? kNaiveMaxSize : kSizes[std::size(kSizes) - 1]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  return tandem_bench::cuda_benchmark_main(argc, argv, "bench_sgemm_cuda", register_benchmarks);
}
