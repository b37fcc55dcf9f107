// Eager-mode overhead: the fixed cost of one op on a tiny tensor, where the arithmetic is negligible and what
// is measured is dispatch, allocation, graph recording and the engine. A chain of ops on a [4] (or [2, 2])
// float32 tensor cycles through add, mul, tanh and a sum folded back in with a broadcast add; then, for
// forward+backward, the chain is summed and backpropagated to the leaf.
//
// Each benchmark reports `us_per_op`: wall time per recorded op (forward ops of the chain plus the final sum),
// so a forward+backward figure includes each op's share of backward; `cpu_us_per_op` is the same with the
// thread's CPU time, which a busy machine does not inflate (the benchmark runs on one thread). Variants:
// forward+backward, forward only (graph recorded, then dropped) and forward under NoGradGuard (no graph).
//
//   build/release/bench/bench_eager_overhead --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <tandem.h>

#include <chrono>
#include <ctime>

namespace td = tandem;

namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

enum class Mode { ForwardBackward, ForwardOnly, NoGrad };

/// Runs a chain of `steps` steps starting from x; returns the result and adds the number of ops to *ops.
td::Tensor chain(const td::Tensor& x, const td::Tensor& c, int64_t steps, int64_t* ops) {
  td::Tensor y = x;
  for (int64_t i = 0; i < steps; ++i) {
    switch (i % 4) {
      case 0: y = y + c; *ops += 1; break;
      case 1: y = y * c; *ops += 1; break;
      case 2: y = y.tanh(); *ops += 1; break;
      default: y = y + y.sum() * 0.25; *ops += 3; break;  // sum, scale, broadcast add
    }
  }
  return y;
}

void run(benchmark::State& state, Mode mode, const td::Dims& shape) {
  td::set_num_threads(1);
  const int64_t steps = state.range(0);
  td::manual_seed(0);
  td::Tensor x = td::randn(shape, td::requires_grad(mode != Mode::NoGrad));
  td::Tensor c = td::full(shape, 0.5);
  int64_t ops_per_iteration = 0;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = thread_cpu_seconds();
  for (auto _ : state) {
    int64_t ops = 0;
    if (mode == Mode::NoGrad) {
      td::NoGradGuard no_grad;
      td::Tensor y = chain(x, c, steps, &ops).sum();
      ++ops;
      benchmark::DoNotOptimize(y.data_ptr());
    } else {
      td::Tensor y = chain(x, c, steps, &ops).sum();
      ++ops;
      if (mode == Mode::ForwardBackward) {
        y.backward();
        x.set_grad(td::Tensor());
      }
      benchmark::DoNotOptimize(y.data_ptr());
    }
    ops_per_iteration = ops;
  }
  const double cpu_seconds = thread_cpu_seconds() - cpu_start;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double total_ops = static_cast<double>(ops_per_iteration) * static_cast<double>(state.iterations());
  state.counters["ops"] = static_cast<double>(ops_per_iteration);
  state.counters["us_per_op"] = total_ops > 0 ? seconds * 1e6 / total_ops : 0.0;
  state.counters["cpu_us_per_op"] = total_ops > 0 ? cpu_seconds * 1e6 / total_ops : 0.0;
}

void BM_ForwardBackward(benchmark::State& state) { run(state, Mode::ForwardBackward, {4}); }
void BM_ForwardBackward2x2(benchmark::State& state) { run(state, Mode::ForwardBackward, {2, 2}); }
void BM_ForwardOnly(benchmark::State& state) { run(state, Mode::ForwardOnly, {4}); }
void BM_NoGrad(benchmark::State& state) { run(state, Mode::NoGrad, {4}); }

BENCHMARK(BM_ForwardBackward)->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ForwardBackward2x2)->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ForwardOnly)->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_NoGrad)->Arg(16)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
