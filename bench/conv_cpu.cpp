// Convolution on the CPU: conv2d forward and forward+backward (with and without the input gradient) for
// LeNet-sized layers and a small CIFAR-style layer on 1 and 2 threads, the im2col/col2im kernels and the batched
// matmul that conv2d is made of (so that a slow layer can be traced to its part), 2x2 max pooling, and one full
// LeNet training step (forward, backward, SGD update) in images per second. bench/results/lenet_cpu.md records
// the figures and the libtorch comparison.
//
//   bench_conv_cpu --benchmark_filter=LeNet     # just the training step
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "backends/cpu/parallel.h"
#include "tensor/functions.h"

namespace td = tandem;

namespace {

struct ConvLayer {
  int64_t N, C, H, W, O, k, pad;
};
const ConvLayer kLeNetConv1{64, 1, 36, 36, 10, 9, 0};
const ConvLayer kLeNetConv2{64, 10, 14, 14, 20, 5, 0};
const ConvLayer kCifarConv{64, 3, 32, 32, 32, 3, 1};

int64_t out_size(const ConvLayer& l, int64_t in) { return in + 2 * l.pad - l.k + 1; }
double conv_flops(const ConvLayer& l) {
  return 2.0 * l.N * l.O * out_size(l, l.H) * out_size(l, l.W) * l.C * l.k * l.k;
}

void set_counters(benchmark::State& state, double images_per_iter, double flops_per_iter) {
  state.counters["images/s"] = benchmark::Counter(images_per_iter, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Conv2dForward(benchmark::State& state, ConvLayer l) {
  td::cpu::set_num_threads(static_cast<int>(state.range(0)));
  td::manual_seed(0);
  td::Tensor x = td::randn({l.N, l.C, l.H, l.W}), w = td::randn({l.O, l.C, l.k, l.k}), b = td::randn({l.O});
  td::NoGradGuard no_grad;
  for (auto _ : state) {
    td::Tensor out = td::conv2d(x, w, b, {1}, {l.pad});
    benchmark::DoNotOptimize(out.data_ptr());
  }
  set_counters(state, static_cast<double>(l.N), conv_flops(l));
}

/// Forward, then backward of out.sum() to the weight and bias, and to the input when input_grad (a network's
/// first layer has no input gradient to compute: the columns' gradient and col2im are skipped).
void BM_Conv2dForwardBackward(benchmark::State& state, ConvLayer l, bool input_grad) {
  td::cpu::set_num_threads(static_cast<int>(state.range(0)));
  td::manual_seed(0);
  td::Tensor x = td::randn({l.N, l.C, l.H, l.W}).requires_grad_(input_grad);
  td::Tensor w = td::randn({l.O, l.C, l.k, l.k}).requires_grad_(true), b = td::randn({l.O}).requires_grad_(true);
  for (auto _ : state) {
    td::Tensor out = td::conv2d(x, w, b, {1}, {l.pad});
    out.sum().backward();
    benchmark::DoNotOptimize(w.grad().data_ptr());
    for (td::Tensor* t : {&x, &w, &b}) t->set_grad(td::Tensor());
  }
  set_counters(state, static_cast<double>(l.N), (input_grad ? 3 : 2) * conv_flops(l));
}

/// max_pool2d 2x2 (stride 2) on LeNet's activations at batch 256: forward alone, and forward + backward.
void BM_MaxPool2d(benchmark::State& state, td::Dims shape, bool backward) {
  td::cpu::set_num_threads(static_cast<int>(state.range(0)));
  td::manual_seed(0);
  td::Tensor x = td::randn(shape).requires_grad_(backward);
  for (auto _ : state) {
    td::Tensor out = td::max_pool2d(x, {2});
    if (backward) {
      out.sum().backward();
      x.set_grad(td::Tensor());
    }
    benchmark::DoNotOptimize(out.data_ptr());
  }
  state.counters["GB/s"] = benchmark::Counter(4.0 * static_cast<double>(x.numel()) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

/// The parts of conv2d on their own: im2col, the [O, CK] @ [N, CK, L] product, col2im.
void BM_Im2col(benchmark::State& state, ConvLayer l) {
  td::cpu::set_num_threads(static_cast<int>(state.range(0)));
  td::Tensor x = td::randn({l.N, l.C, l.H, l.W});
  td::NoGradGuard no_grad;
  for (auto _ : state) {
    td::Tensor cols = td::unfold(x, {l.k}, {1}, {l.pad});
    benchmark::DoNotOptimize(cols.data_ptr());
  }
  const double bytes = 4.0 * l.N * l.C * l.k * l.k * out_size(l, l.H) * out_size(l, l.W);
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Col2im(benchmark::State& state, ConvLayer l) {
  td::cpu::set_num_threads(static_cast<int>(state.range(0)));
  const int64_t L = out_size(l, l.H) * out_size(l, l.W);
  td::Tensor cols = td::randn({l.N, l.C * l.k * l.k, L});
  td::NoGradGuard no_grad;
  for (auto _ : state) {
    td::Tensor img = td::fold(cols, {l.H, l.W}, {l.k}, {1}, {l.pad});
    benchmark::DoNotOptimize(img.data_ptr());
  }
  state.counters["GB/s"] = benchmark::Counter(4.0 * cols.numel() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_ConvMatmul(benchmark::State& state, ConvLayer l) {
  td::cpu::set_num_threads(static_cast<int>(state.range(0)));
  const int64_t L = out_size(l, l.H) * out_size(l, l.W), CK = l.C * l.k * l.k;
  td::Tensor w = td::randn({l.O, CK}), cols = td::randn({l.N, CK, L});
  td::NoGradGuard no_grad;
  for (auto _ : state) {
    td::Tensor out = td::matmul(w, cols);
    benchmark::DoNotOptimize(out.data_ptr());
  }
  set_counters(state, static_cast<double>(l.N), conv_flops(l));
}

// ---- LeNet ----------------------------------------------------------------------------------------------------

/// conv(1->10, k9) -> relu -> maxpool2 -> conv(10->20, k5) -> relu -> maxpool2 -> flatten -> linear 500->50 ->
/// relu -> two heads linear 50->10, each with a cross-entropy loss; the training loss is their sum.
struct LeNet {
  td::Tensor conv1_w, conv1_b, conv2_w, conv2_b, fc_w, fc_b, head1_w, head1_b, head2_w, head2_b;

  LeNet() {
    td::manual_seed(0);
    auto param = [](const td::Dims& shape, double scale) { return (td::randn(shape) * scale).requires_grad_(true); };
    conv1_w = param({10, 1, 9, 9}, 1.0 / 9), conv1_b = param({10}, 0.1);
    conv2_w = param({20, 10, 5, 5}, 1.0 / 16), conv2_b = param({20}, 0.1);
    fc_w = param({50, 500}, 1.0 / 22), fc_b = param({50}, 0.1);
    head1_w = param({10, 50}, 1.0 / 7), head1_b = param({10}, 0.1);
    head2_w = param({10, 50}, 1.0 / 7), head2_b = param({10}, 0.1);
  }
  std::vector<td::Tensor*> parameters() {
    return {&conv1_w, &conv1_b, &conv2_w, &conv2_b, &fc_w, &fc_b, &head1_w, &head1_b, &head2_w, &head2_b};
  }
  static td::Tensor linear(const td::Tensor& x, const td::Tensor& w, const td::Tensor& b) {
    return td::matmul(x, w.t()) + b;
  }
  /// The shared trunk: [N, 1, 36, 36] -> [N, 50].
  td::Tensor features(const td::Tensor& x) const {
    td::Tensor h = td::max_pool2d(td::relu(td::conv2d(x, conv1_w, conv1_b)), {2});  // [N, 10, 14, 14]
    h = td::max_pool2d(td::relu(td::conv2d(h, conv2_w, conv2_b)), {2});             // [N, 20, 5, 5]
    return td::relu(linear(h.flatten(1), fc_w, fc_b));                              // [N, 50]
  }
  td::Tensor loss(const td::Tensor& x, const td::Tensor& y1, const td::Tensor& y2) const {
    td::Tensor h = features(x);
    return td::cross_entropy(linear(h, head1_w, head1_b), y1) + td::cross_entropy(linear(h, head2_w, head2_b), y2);
  }
  void sgd_step(double lr) {
    td::NoGradGuard no_grad;
    for (td::Tensor* p : parameters()) {
      p->sub_(p->grad(), lr);
      p->set_grad(td::Tensor());
    }
  }
};

struct LeNetBatch {
  td::Tensor x, y1, y2;
  explicit LeNetBatch(int64_t n) {
    td::manual_seed(1);
    x = td::randn({n, 1, 36, 36});
    y1 = td::randint(0, 10, {n});
    y2 = td::randint(0, 10, {n});
  }
};

constexpr int64_t kLeNetBatch = 256;

void BM_LeNetTrainingStep(benchmark::State& state) {
  td::cpu::set_num_threads(static_cast<int>(state.range(0)));
  LeNet net;
  LeNetBatch batch(kLeNetBatch);
  for (auto _ : state) {
    td::Tensor loss = net.loss(batch.x, batch.y1, batch.y2);
    loss.backward();
    net.sgd_step(0.01);
    benchmark::DoNotOptimize(loss.data_ptr());
  }
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(kLeNetBatch), benchmark::Counter::kIsIterationInvariantRate);
}

/// The forward pass alone (graph recorded, no backward), to split the step's time.
void BM_LeNetForward(benchmark::State& state) {
  td::cpu::set_num_threads(static_cast<int>(state.range(0)));
  LeNet net;
  LeNetBatch batch(kLeNetBatch);
  for (auto _ : state) {
    td::Tensor loss = net.loss(batch.x, batch.y1, batch.y2);
    benchmark::DoNotOptimize(loss.data_ptr());
  }
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(kLeNetBatch), benchmark::Counter::kIsIterationInvariantRate);
}

/// Every benchmark runs on 1 and 2 threads, timed by the wall clock (the work happens on OpenMP threads).
benchmark::internal::Benchmark* on_1_and_2_threads(benchmark::internal::Benchmark* b) {
  return b->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
}

void register_all() {
  const std::vector<std::pair<std::string, ConvLayer>> layers = {
      {"lenet1_1to10_k9_36x36", kLeNetConv1}, {"lenet2_10to20_k5_14x14", kLeNetConv2}, {"c3to32_k3_p1_32x32", kCifarConv}};
  for (const auto& [name, layer] : layers) {
    on_1_and_2_threads(benchmark::RegisterBenchmark(("Conv2dForward/" + name).c_str(), BM_Conv2dForward, layer));
    on_1_and_2_threads(benchmark::RegisterBenchmark(("Conv2dForwardBackward/" + name).c_str(),
                                                    BM_Conv2dForwardBackward, layer, /*input_grad=*/true));
    on_1_and_2_threads(benchmark::RegisterBenchmark(("Conv2dForwardBackwardNoInputGrad/" + name).c_str(),
                                                    BM_Conv2dForwardBackward, layer, /*input_grad=*/false));
    on_1_and_2_threads(benchmark::RegisterBenchmark(("Im2col/" + name).c_str(), BM_Im2col, layer));
    on_1_and_2_threads(benchmark::RegisterBenchmark(("Col2im/" + name).c_str(), BM_Col2im, layer));
    on_1_and_2_threads(benchmark::RegisterBenchmark(("ConvMatmul/" + name).c_str(), BM_ConvMatmul, layer));
  }
  for (const auto& [name, shape] : std::vector<std::pair<std::string, td::Dims>>{
           {"256x10x28x28", {256, 10, 28, 28}}, {"256x20x10x10", {256, 20, 10, 10}}}) {
    on_1_and_2_threads(benchmark::RegisterBenchmark(("MaxPool2dForward/2x2_" + name).c_str(), BM_MaxPool2d, shape,
                                                    /*backward=*/false));
    on_1_and_2_threads(benchmark::RegisterBenchmark(("MaxPool2dForwardBackward/2x2_" + name).c_str(), BM_MaxPool2d,
                                                    shape, /*backward=*/true));
  }
  on_1_and_2_threads(benchmark::RegisterBenchmark("LeNetTrainingStep/batch256", BM_LeNetTrainingStep));
  on_1_and_2_threads(benchmark::RegisterBenchmark("LeNetForward/batch256", BM_LeNetForward));
}

const bool registered = [] {
  register_all();
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
