// CPU element-wise kernels on 1M float32 elements ([1024, 1024], 4 MiB per tensor), called through the tensor
// API under NoGradGuard (so the output allocation, served by the caching allocator, is included):
//   Clone          y = x.clone(): a plain copy, the bandwidth reference the others are compared with;
//   Add            a + b, all contiguous (memory-bound);
//   MulRow         a * row, a row vector [1024] broadcast over the rows;
//   AddTransposed  a.t() + b, the first operand non-contiguous (the tiled walk);
//   Exp, Tanh, Sigmoid, Gelu, GeluTanh: the vectorised float32 functions (compute-bound).
// Each runs on 1 and 2 threads (the argument). bytes_per_second counts every byte read and written once (3 x 4
// MiB for a binary op, 2 x 4 MiB for a unary op or a copy).
//
//   build/bench/bench_elementwise_cpu --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <tandem.h>

namespace td = tandem;

namespace {

constexpr int64_t kRows = 1024, kCols = 1024, kNumel = kRows * kCols;
constexpr int64_t kBytes = kNumel * 4;

struct Inputs {
  td::Tensor a, b, row;
  Inputs() {
    td::manual_seed(0);
    a = td::randn({kRows, kCols});
    b = td::randn({kRows, kCols});
    row = td::randn({kCols});
  }
};

const Inputs& inputs() {
  static const Inputs in;
  return in;
}

template <typename Op>
void run(benchmark::State& state, int64_t bytes_moved, Op op) {
  td::set_num_threads(static_cast<int>(state.range(0)));
  td::NoGradGuard no_grad;
  const Inputs& in = inputs();
  for (auto _ : state) {
    td::Tensor y = op(in);
    benchmark::DoNotOptimize(y.data_ptr());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * bytes_moved);
}

void BM_Clone(benchmark::State& s) { run(s, 2 * kBytes, [](const Inputs& in) { return in.a.clone(); }); }
void BM_Add(benchmark::State& s) { run(s, 3 * kBytes, [](const Inputs& in) { return in.a + in.b; }); }
void BM_MulRow(benchmark::State& s) {
  run(s, 2 * kBytes + kCols * 4, [](const Inputs& in) { return in.a * in.row; });
}
void BM_AddTransposed(benchmark::State& s) {
  run(s, 3 * kBytes, [](const Inputs& in) { return in.a.t() + in.b; });
}
void BM_Exp(benchmark::State& s) { run(s, 2 * kBytes, [](const Inputs& in) { return in.a.exp(); }); }
void BM_Tanh(benchmark::State& s) { run(s, 2 * kBytes, [](const Inputs& in) { return in.a.tanh(); }); }
void BM_Sigmoid(benchmark::State& s) { run(s, 2 * kBytes, [](const Inputs& in) { return in.a.sigmoid(); }); }
void BM_Gelu(benchmark::State& s) { run(s, 2 * kBytes, [](const Inputs& in) { return td::gelu(in.a); }); }
void BM_GeluTanh(benchmark::State& s) {
  run(s, 2 * kBytes, [](const Inputs& in) { return td::gelu(in.a, "tanh"); });
}

#define TD_ELEMENTWISE_BENCH(fn) BENCHMARK(fn)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond)
TD_ELEMENTWISE_BENCH(BM_Clone);
TD_ELEMENTWISE_BENCH(BM_Add);
TD_ELEMENTWISE_BENCH(BM_MulRow);
TD_ELEMENTWISE_BENCH(BM_AddTransposed);
TD_ELEMENTWISE_BENCH(BM_Exp);
TD_ELEMENTWISE_BENCH(BM_Tanh);
TD_ELEMENTWISE_BENCH(BM_Sigmoid);
TD_ELEMENTWISE_BENCH(BM_Gelu);
TD_ELEMENTWISE_BENCH(BM_GeluTanh);
#undef TD_ELEMENTWISE_BENCH

}  // namespace

BENCHMARK_MAIN();
