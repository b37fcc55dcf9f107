// The CPU GEMM ladder: what each optimisation step buys on square single-precision products C = A @ B.
//   sgemm_naive        the (i, j, k) triple loop                                  n = 128 .. 512
//   sgemm_blocked      cache tiles, i-k-j order (compiler-vectorised)             n = 128 .. 1024
//   sgemm_packed       packed panels + SIMD micro-kernel, 1 thread                n = 128 .. 2048
//   sgemm_ours         tandem::cpu::gemm with threads = 1 and 2                   n = 128 .. 2048
//   sgemm_openblas     cblas_sgemm with threads = 1 and 2 (when OpenBLAS is found) n = 128 .. 2048
// Every benchmark reports GFLOP/s (2 n^3 per product) over wall-clock time, and checks its result once before
// timing (full rows and columns plus random entries against a double-precision dot product).
// Results for this machine: bench/results/cpu_gemm.md.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/gemm.h"
#include "backends/cpu/parallel.h"

#ifdef TANDEM_HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

namespace {

/// Random square operands of size n, made once per n and shared by every benchmark.
struct Operands {
  std::vector<float> a, b;
};

const Operands& operands(int64_t n) {
  static std::map<int64_t, Operands> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  std::mt19937 rng(static_cast<uint32_t>(n));
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  Operands ops;
  ops.a.resize(static_cast<size_t>(n * n));
  ops.b.resize(static_cast<size_t>(n * n));
  for (auto& x : ops.a) x = dist(rng);
  for (auto& x : ops.b) x = dist(rng);
  return cache.emplace(n, std::move(ops)).first->second;
}

/// Empty when c = a @ b (n x n, row-major) on the checked entries, else a description of the first mismatch.
/// Checked: rows 0, n/2, n-1 and columns 0, n-1 completely, 256 random entries, and that every entry is finite.
std::string check_product(int64_t n, const float* a, const float* b, const float* c) {
  for (int64_t p = 0; p < n * n; ++p)
    if (!std::isfinite(c[p])) return "non-finite entry at " + std::to_string(p);
  auto check_entry = [&](int64_t i, int64_t j) -> std::string {
    double sum = 0, magnitude = 0;
    for (int64_t k = 0; k < n; ++k) {
      const double term = static_cast<double>(a[i * n + k]) * b[k * n + j];
      sum += term;
      magnitude += std::fabs(term);
    }
    const double tolerance = 1e-4 * std::sqrt(static_cast<double>(n)) * magnitude + 1e-30;
    if (std::fabs(c[i * n + j] - sum) > tolerance)
      return "C(" + std::to_string(i) + ", " + std::to_string(j) + ") = " + std::to_string(c[i * n + j]) +
             ", expected " + std::to_string(sum);
    return {};
  };
  for (int64_t i : {int64_t{0}, n / 2, n - 1})
    for (int64_t j = 0; j < n; ++j)
      if (auto error = check_entry(i, j); !error.empty()) return error;
  for (int64_t j : {int64_t{0}, n - 1})
    for (int64_t i = 0; i < n; ++i)
      if (auto error = check_entry(i, j); !error.empty()) return error;
  std::mt19937 rng(42);
  std::uniform_int_distribution<int64_t> index(0, n - 1);
  for (int trial = 0; trial < 256; ++trial)
    if (auto error = check_entry(index(rng), index(rng)); !error.empty()) return error;
  return {};
}

/// Runs `multiply(a, b, c)` once and checks it, then times it; reports GFLOP/s.
template <typename Multiply>
void run_square_product(benchmark::State& state, int64_t n, Multiply&& multiply) {
  const Operands& ops = operands(n);
  std::vector<float> c(static_cast<size_t>(n * n), std::nanf(""));
  multiply(ops.a.data(), ops.b.data(), c.data());
  if (std::string error = check_product(n, ops.a.data(), ops.b.data(), c.data()); !error.empty()) {
    state.SkipWithError(("wrong result: " + error).c_str());
    return;
  }
  for (auto _ : state) {
    multiply(ops.a.data(), ops.b.data(), c.data());
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

/// Sets tandem's thread count for the lifetime of a benchmark and restores it afterwards.
class ThreadCount {
 public:
  explicit ThreadCount(int threads) : saved_(tandem::cpu::get_num_threads()) { tandem::cpu::set_num_threads(threads); }
  ~ThreadCount() { tandem::cpu::set_num_threads(saved_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int saved_;
};

void sgemm_naive(benchmark::State& state) {
  const int64_t n = state.range(0);
  run_square_product(state, n, [n](const float* a, const float* b, float* c) {
    tandem::cpu::ladder::sgemm_naive(n, n, n, a, b, c);
  });
}

void sgemm_blocked(benchmark::State& state) {
  const int64_t n = state.range(0);
  run_square_product(state, n, [n](const float* a, const float* b, float* c) {
    tandem::cpu::ladder::sgemm_blocked(n, n, n, a, b, c);
  });
}

void sgemm_packed(benchmark::State& state) {
  const int64_t n = state.range(0);
  run_square_product(state, n, [n](const float* a, const float* b, float* c) {
    tandem::cpu::ladder::sgemm_packed(n, n, n, a, b, c);
  });
  state.SetLabel(tandem::cpu::gemm_kernel_name());
}

void sgemm_ours(benchmark::State& state) {
  const int64_t n = state.range(0);
  ThreadCount threads(static_cast<int>(state.range(1)));
  run_square_product(state, n, [n](const float* a, const float* b, float* c) {
    tandem::cpu::gemm(n, n, n, 1.f, a, n, 1, b, n, 1, 0.f, c, n, 1);
  });
  state.SetLabel(tandem::cpu::gemm_kernel_name());
}

#ifdef TANDEM_HAVE_OPENBLAS
void sgemm_openblas(benchmark::State& state) {
  const int64_t n = state.range(0);
  openblas_set_num_threads(static_cast<int>(state.range(1)));
  const int ni = static_cast<int>(n);
  run_square_product(state, n, [ni](const float* a, const float* b, float* c) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1.f, a, ni, b, ni, 0.f, c, ni);
  });
}
#endif

/// Square sizes from `from` to `to`, doubling, each with every thread count in `threads` (when given).
void square_sizes(benchmark::internal::Benchmark* b, int64_t from, int64_t to, std::vector<int64_t> threads) {
  for (int64_t n = from; n <= to; n *= 2) {
    if (threads.empty()) b->Args({n});
    for (int64_t t : threads) b->Args({n, t});
  }
  b->ArgNames(threads.empty() ? std::vector<std::string>{"n"} : std::vector<std::string>{"n", "threads"});
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.3);
}

BENCHMARK(sgemm_naive)->Apply([](auto* b) { square_sizes(b, 128, 512, {}); });
BENCHMARK(sgemm_blocked)->Apply([](auto* b) { square_sizes(b, 128, 1024, {}); });
BENCHMARK(sgemm_packed)->Apply([](auto* b) { square_sizes(b, 128, 2048, {}); });
BENCHMARK(sgemm_ours)->Apply([](auto* b) { square_sizes(b, 128, 2048, {1, 2}); });
#ifdef TANDEM_HAVE_OPENBLAS
BENCHMARK(sgemm_openblas)->Apply([](auto* b) { square_sizes(b, 128, 2048, {1, 2}); });
#endif

}  // namespace

BENCHMARK_MAIN();
