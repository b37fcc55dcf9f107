// Optimizer step cost: one step() of each optimizer over the parameters of a small MLP (784-256-256-10,
// 269,322 float32 values in 6 tensors) and over one large tensor (4M values), with gradients already in
// place. The update rules are compositions of element-wise tensor ops, so a step is a handful of passes over
// the parameter, gradient and state buffers; `params_per_second` (items_per_second) shows how close that gets
// to memory speed, and the MLP case shows the per-tensor overhead. Runs on one thread.
//
//   build/release/bench/bench_optim_step --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <tandem.h>

#include <functional>
#include <memory>
#include <vector>

#include "nn/optim/adagrad.h"
#include "nn/optim/adam.h"
#include "nn/optim/rmsprop.h"
#include "nn/optim/sgd.h"

namespace td = tandem;
namespace optim = tandem::optim;

namespace {

using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer>(const std::vector<td::Tensor>&)>;

std::vector<td::Dims> mlp_shapes() { return {{256, 784}, {256}, {256, 256}, {256}, {10, 256}, {10}}; }
std::vector<td::Dims> large_shapes() { return {{2048, 2048}}; }

void run(benchmark::State& state, const std::vector<td::Dims>& shapes, const MakeOptimizer& make) {
  td::set_num_threads(1);  // one core: figures that do not depend on how busy the others are
  td::manual_seed(0);
  std::vector<td::Tensor> params;
  int64_t count = 0;
  for (const auto& shape : shapes) {
    td::Tensor p = td::randn(shape);
    p.requires_grad_(true);
    p.set_grad(td::randn(shape).mul(1e-2));
    count += p.numel();
    params.push_back(p);
  }
  auto opt = make(params);
  opt->step();  // creates the state
  for (auto _ : state) {
    opt->step();
    benchmark::DoNotOptimize(params.front().data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * count);
  state.counters["params"] = static_cast<double>(count);
}

const MakeOptimizer kSGD = [](const std::vector<td::Tensor>& p) {
  return std::make_unique<optim::SGD>(p, optim::SGDOptions(0.01));
};
const MakeOptimizer kSGDMomentum = [](const std::vector<td::Tensor>& p) {
  return std::make_unique<optim::SGD>(p, optim::SGDOptions(0.01).momentum(0.9).nesterov(true));
};
const MakeOptimizer kAdam = [](const std::vector<td::Tensor>& p) {
  return std::make_unique<optim::Adam>(p, optim::AdamOptions(1e-3));
};
const MakeOptimizer kAdamW = [](const std::vector<td::Tensor>& p) {
  return std::make_unique<optim::AdamW>(p, optim::AdamWOptions(1e-3));
};
const MakeOptimizer kRMSprop = [](const std::vector<td::Tensor>& p) {
  return std::make_unique<optim::RMSprop>(p, optim::RMSpropOptions(1e-3).momentum(0.9).centered(true));
};
const MakeOptimizer kAdagrad = [](const std::vector<td::Tensor>& p) {
  return std::make_unique<optim::Adagrad>(p, optim::AdagradOptions(1e-2));
};

void BM_SGD_mlp(benchmark::State& s) { run(s, mlp_shapes(), kSGD); }
void BM_SGDNesterov_mlp(benchmark::State& s) { run(s, mlp_shapes(), kSGDMomentum); }
void BM_Adam_mlp(benchmark::State& s) { run(s, mlp_shapes(), kAdam); }
void BM_AdamW_mlp(benchmark::State& s) { run(s, mlp_shapes(), kAdamW); }
void BM_RMSpropCentered_mlp(benchmark::State& s) { run(s, mlp_shapes(), kRMSprop); }
void BM_Adagrad_mlp(benchmark::State& s) { run(s, mlp_shapes(), kAdagrad); }
void BM_SGD_4M(benchmark::State& s) { run(s, large_shapes(), kSGD); }
void BM_SGDNesterov_4M(benchmark::State& s) { run(s, large_shapes(), kSGDMomentum); }
void BM_Adam_4M(benchmark::State& s) { run(s, large_shapes(), kAdam); }
void BM_AdamW_4M(benchmark::State& s) { run(s, large_shapes(), kAdamW); }
void BM_RMSpropCentered_4M(benchmark::State& s) { run(s, large_shapes(), kRMSprop); }
void BM_Adagrad_4M(benchmark::State& s) { run(s, large_shapes(), kAdagrad); }

}  // namespace

BENCHMARK(BM_SGD_mlp)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SGDNesterov_mlp)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Adam_mlp)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AdamW_mlp)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RMSpropCentered_mlp)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Adagrad_mlp)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SGD_4M)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SGDNesterov_4M)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Adam_4M)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AdamW_4M)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RMSpropCentered_4M)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Adagrad_4M)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
