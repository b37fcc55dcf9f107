// One training step (zero_grad, forward, loss, backward, Adam step) of two models, on the GPU and on the CPU in
// the same program:
//   train_step/mlp/<device>     MLP 784-512-512-10 (ReLU), batch 256, cross-entropy
//   train_step/lenet/<device>   the Multi-Fashion LeNet: conv 1->10 k9 on 36x36, max-pool 2, ReLU, conv 10->20 k5,
//                               max-pool 2, ReLU, fc 500->50, ReLU, two heads 50->10; batch 256, the sum of
//                               the two heads' cross-entropies
// Time is wall clock per step (host work included; the GPU rows wait for the device at the end of each step).
// Counters: images/s, and on the CUDA rows speedup_vs_cpu (images/s over the CPU row's, measured first).
// Check before timing: on the CUDA rows, the same weights and batch give the same loss on both devices (relative
// 1e-4) and the same gradient of the first layer's weight (max difference within 1e-3 of its largest entry).
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "cuda/cuda_timing.cuh"
#include "tandem.h"

namespace {

namespace td = tandem;
namespace nn = tandem::nn;
namespace optim = tandem::optim;
using tandem_bench::fail;

constexpr int64_t kBatch = 256;

/// A model of the benchmark: its input shape and its loss on a batch.
struct Model {
  virtual ~Model() = default;
  virtual std::shared_ptr<nn::Module> module() = 0;
  virtual td::Dims input_shape() const = 0;
  virtual td::Tensor loss(const td::Tensor& x, const td::Tensor& y1, const td::Tensor& y2) = 0;
};

struct MlpModel : Model {
  MlpModel() : net(nn::Linear(784, 512), nn::ReLU(), nn::Linear(512, 512), nn::ReLU(), nn::Linear(512, 10)) {}
  std::shared_ptr<nn::Module> module() override { return net.ptr(); }
  td::Dims input_shape() const override { return {kBatch, 784}; }
  td::Tensor loss(const td::Tensor& x, const td::Tensor& y1, const td::Tensor&) override {
    return td::cross_entropy(net->forward(x), y1);
  }
  nn::Sequential net;
};

struct LeNetImpl : nn::Module {
  LeNetImpl()
      : nn::Module("LeNet"),
        conv1(register_module("conv1", nn::Conv2d(1, 10, 9))),
        conv2(register_module("conv2", nn::Conv2d(10, 20, 5))),
        pool(register_module("pool", nn::MaxPool2d(2))),
        fc(register_module("fc", nn::Linear(500, 50))),
        head1(register_module("head1", nn::Linear(50, 10))),
        head2(register_module("head2", nn::Linear(50, 10))) {}
  std::pair<td::Tensor, td::Tensor> forward(const td::Tensor& x) {
    td::Tensor h = td::relu(pool(conv1(x)));  // [N, 10, 14, 14]
    h = td::relu(pool(conv2(h)));             // [N, 20, 5, 5]
    h = td::relu(fc(h.flatten(1)));           // [N, 50]
    return {head1(h), head2(h)};
  }
  nn::Conv2d conv1, conv2;
  nn::MaxPool2d pool;
  nn::Linear fc, head1, head2;
};
TANDEM_MODULE(LeNet);

struct LeNetModel : Model {
  std::shared_ptr<nn::Module> module() override { return net.ptr(); }
  td::Dims input_shape() const override { return {kBatch, 1, 36, 36}; }
  td::Tensor loss(const td::Tensor& x, const td::Tensor& y1, const td::Tensor& y2) override {
    auto [left, right] = net->forward(x);
    return td::cross_entropy(left, y1) + td::cross_entropy(right, y2);
  }
  LeNet net;
};

/// The model `name` ("mlp" or "lenet") with its initial weights drawn from a fixed seed: two calls give two
/// identical models.
std::unique_ptr<Model> make_model(const std::string& name) {
  td::manual_seed(7);
  if (name == "mlp") return std::make_unique<MlpModel>();
  return std::make_unique<LeNetModel>();
}

/// A random batch on the CPU: inputs and two label vectors.
struct Batch {
  td::Tensor x, y1, y2;
  Batch to(const td::Device& device) const { return {x.to(device), y1.to(device), y2.to(device)}; }
};

Batch make_batch(const Model& model) {
  td::manual_seed(8);
  return {td::randn(model.input_shape()), td::randint(0, 10, {kBatch}), td::randint(0, 10, {kBatch})};
}

/// One step; returns the loss (still on the model's device).
td::Tensor step(Model& model, optim::Adam& opt, const Batch& batch) {
  opt.zero_grad();
  td::Tensor loss = model.loss(batch.x, batch.y1, batch.y2);
  loss.backward();
  opt.step();
  return loss;
}

std::map<std::string, double>& cpu_images_per_second() {
  static std::map<std::string, double> known;
  return known;
}

double relative_difference(const td::Tensor& a, const td::Tensor& b) {
  const td::Tensor x = a.detach().to(td::kCPU), y = b.detach().to(td::kCPU);
  return (x - y).abs().max().item<double>() / std::max(y.abs().max().item<double>(), 1e-30);
}

void train_step(benchmark::State& state, const std::string& name, bool on_cuda) {
  try {
    const td::Device device = on_cuda ? td::Device(td::kCUDA) : td::Device(td::kCPU);
    std::unique_ptr<Model> model = make_model(name);
    const Batch cpu_batch = make_batch(*model);
    if (on_cuda) {
      // The check: loss and gradients of one step on each device, from the same weights and batch. (The
      // weights after the Adam step are not compared: Adam's first step is lr * sign(gradient) where a gradient
      // is near zero, so rounding may flip it.)
      std::unique_ptr<Model> reference = make_model(name);
      std::unique_ptr<Model> trial = make_model(name);
      trial->module()->to(device);
      const td::Tensor cpu_loss = reference->loss(cpu_batch.x, cpu_batch.y1, cpu_batch.y2);
      cpu_loss.backward();
      const Batch device_batch = cpu_batch.to(device);
      const td::Tensor gpu_loss = trial->loss(device_batch.x, device_batch.y1, device_batch.y2);
      gpu_loss.backward();
      const double loss_error = std::abs(gpu_loss.item<double>() - cpu_loss.item<double>()) / std::abs(cpu_loss.item<double>());
      const double grad_error = relative_difference(trial->module()->parameters()[0].grad(),
                                                    reference->module()->parameters()[0].grad());
      if (!(loss_error <= 1e-4) || !(grad_error <= 1e-3)) {
        fail(state, "wrong result: " + name + " on CUDA vs CPU: loss " + std::to_string(gpu_loss.item<double>()) +
                        " vs " + std::to_string(cpu_loss.item<double>()) + ", first-layer gradients differ by " +
                        std::to_string(grad_error) + " (relative to the largest)");
        return;
      }
    }
    model->module()->to(device);
    optim::Adam opt(model->module()->parameters(), optim::AdamOptions(1e-3));
    const Batch batch = cpu_batch.to(device);
    for (int warm = 0; warm < 3; ++warm) (void)step(*model, opt, batch);
    td::cuda::synchronize();
    double total = 0;
    int64_t steps = 0;
    for (auto _ : state) {
      const auto start = std::chrono::steady_clock::now();
      (void)step(*model, opt, batch);
      if (on_cuda) td::cuda::synchronize();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      state.SetIterationTime(seconds);
      total += seconds;
      ++steps;
    }
    state.counters["images/s"] = benchmark::Counter(static_cast<double>(kBatch), benchmark::Counter::kIsIterationInvariantRate);
    const double images_per_second = steps > 0 && total > 0 ? static_cast<double>(kBatch * steps) / total : 0.0;
    if (!on_cuda) {
      cpu_images_per_second()[name] = images_per_second;
    } else if (auto it = cpu_images_per_second().find(name); it != cpu_images_per_second().end() && it->second > 0) {
      state.counters["speedup_vs_cpu"] = images_per_second / it->second;
    }
  } catch (const std::exception& e) {
    fail(state, e.what());
  }
}

void register_benchmarks() {
  for (const char* name : {"mlp", "lenet"})
    for (bool on_cuda : {false, true}) {
      const std::string label = std::string("train_step/") + name + (on_cuda ? "/cuda" : "/cpu");
      benchmark::RegisterBenchmark(label.c_str(),
                                   [name = std::string(name), on_cuda](benchmark::State& state) {
                                     train_step(state, name, on_cuda);
                                   })
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond)
          ->MinTime(1.0);
    }
}

}  // namespace

int main(int argc, char** argv) {
  return tandem_bench::cuda_benchmark_main(argc, argv, "bench_train_step_cuda", register_benchmarks);
}
