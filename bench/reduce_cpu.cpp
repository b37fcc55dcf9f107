// CPU reduction and softmax kernels on a [4096, 1024] float32 matrix (16 MiB, larger than the caches): the sum
// of everything (one output split between threads), row sums over the last dim (the inner, vectorised-lanes
// path), column sums over the first dim (the outer, row-accumulation path), and softmax over the last dim.
// Each runs on 1 and 2 threads (the argument); bytes/s counts the bytes read (and, for softmax, written).
// The kernels are called through the backend interface, so the numbers are those of the kernels alone.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"

namespace {

using tandem::Dims;
using tandem::ReduceOp;
using tandem::Strided;

constexpr int64_t kRows = 4096, kCols = 1024;

std::vector<float>& input() {
  static std::vector<float> data = [] {
    std::vector<float> v(static_cast<size_t>(kRows * kCols));
    std::mt19937 gen(0);
    std::normal_distribution<float> dist;
    for (auto& x : v) x = dist(gen);
    return v;
  }();
  return data;
}

Strided operand(float* data, const Dims& sizes) {
  Strided s;
  s.data = data;
  s.dtype = tandem::kFloat32;
  s.sizes = sizes;
  s.strides = tandem::contiguous_strides(sizes);
  return s;
}

void run_reduction(benchmark::State& state, const Dims& out_sizes) {
  tandem::cpu::set_num_threads(static_cast<int>(state.range(0)));
  std::vector<float> out(static_cast<size_t>(out_sizes.product()));
  const Strided src = operand(input().data(), {kRows, kCols});
  const Strided dst = operand(out.data(), out_sizes);
  for (auto _ : state) {
    tandem::cpu::cpu_backend().reduce(ReduceOp::Sum, src, dst);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * kRows * kCols * static_cast<int64_t>(sizeof(float)));
}

void BM_SumAll(benchmark::State& state) { run_reduction(state, {1, 1}); }
void BM_SumLastDim(benchmark::State& state) { run_reduction(state, {kRows, 1}); }
void BM_SumFirstDim(benchmark::State& state) { run_reduction(state, {1, kCols}); }

void BM_SoftmaxLastDim(benchmark::State& state) {
  tandem::cpu::set_num_threads(static_cast<int>(state.range(0)));
  std::vector<float> out(static_cast<size_t>(kRows * kCols));
  const Strided src = operand(input().data(), {kRows, kCols});
  const Strided dst = operand(out.data(), {kRows, kCols});
  for (auto _ : state) {
    tandem::cpu::cpu_backend().softmax(src, dst, 1, /*log=*/false);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * kRows * kCols * static_cast<int64_t>(sizeof(float)));
}

BENCHMARK(BM_SumAll)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SumLastDim)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SumFirstDim)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SoftmaxLastDim)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
