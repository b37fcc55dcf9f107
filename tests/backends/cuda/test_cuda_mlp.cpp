// End to end: a small MLP trained with Adam on CUDA tracks the same MLP trained on the CPU, step by step. Both
// start from the same weights (a clone moved with Module::to) and see the same batches; over 20 float32 steps
// every loss agrees within 1e-4 relative, and so do the final weights. A second test moves a model to CUDA in the
// middle of training: the optimizer's state follows its parameters and the run goes on as on the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "cuda_test_util.h"

namespace tandem {
namespace {

const Device kCuda(kCUDA);

/// One training step on `device` (the batch is moved there); returns the loss before the update.
Tensor train_step(nn::SequentialImpl& net, optim::Optimizer& opt, const Tensor& x, const Tensor& y, Device device) {
  opt.zero_grad();
  Tensor loss = cross_entropy(net.forward(x.to(device)), y.to(device));
  loss.backward();
  opt.step();
  return loss;
}

/// Both nets' parameters agree within float32 tolerances.
void expect_same_parameters(nn::SequentialImpl& cpu_net, nn::SequentialImpl& other) {
  const auto cpu_params = cpu_net.parameters(), other_params = other.parameters();
  ASSERT_EQ(cpu_params.size(), other_params.size());
  for (size_t i = 0; i < cpu_params.size(); ++i)
    EXPECT_TRUE(cuda_test::matches_cpu(cpu_params[i].detach(), other_params[i].detach(), cuda_test::Tolerance{1e-3, 1e-4}))
        << "parameter " << i;
}

TEST(CudaMlp, AdamTrainingTracksTheCpu) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(2024);
  nn::Sequential cpu_net(nn::Linear(12, 32), nn::ReLU(), nn::Linear(32, 32), nn::Tanh(), nn::Linear(32, 4));
  auto gpu_net = std::dynamic_pointer_cast<nn::SequentialImpl>(cpu_net->clone());
  ASSERT_NE(gpu_net, nullptr);
  gpu_net->to(kCuda);

  optim::Adam cpu_opt(cpu_net->parameters(), optim::AdamOptions(1e-2));
  optim::Adam gpu_opt(gpu_net->parameters(), optim::AdamOptions(1e-2));

  const Tensor inputs = randn({20, 64, 12});
  const Tensor labels = randint(0, 4, {20, 64});
  for (int64_t step = 0; step < 20; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const Tensor x = inputs[step], y = labels[step];

    const Tensor cpu_loss = train_step(*cpu_net, cpu_opt, x, y, kCPU);
    const Tensor gpu_loss = train_step(*gpu_net, gpu_opt, x, y, kCuda);

    ASSERT_TRUE(gpu_loss.is_cuda());
    const double expected = cpu_loss.item<double>(), actual = gpu_loss.item<double>();
    EXPECT_NEAR(actual, expected, 1e-4 * std::abs(expected)) << "CPU loss " << expected << ", CUDA loss " << actual;
  }
  expect_same_parameters(*cpu_net, *gpu_net);
}

TEST(CudaMlp, OptimizerStateFollowsAModelMovedToCudaMidway) {
  if (!tandem::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  manual_seed(7);
  nn::Sequential cpu_net(nn::Linear(8, 16), nn::ReLU(), nn::Linear(16, 3));
  auto moved_net = std::dynamic_pointer_cast<nn::SequentialImpl>(cpu_net->clone());
  ASSERT_NE(moved_net, nullptr);
  optim::Adam cpu_opt(cpu_net->parameters(), optim::AdamOptions(1e-2));
  optim::Adam moved_opt(moved_net->parameters(), optim::AdamOptions(1e-2));

  const Tensor inputs = randn({10, 32, 8});
  const Tensor labels = randint(0, 3, {10, 32});
  for (int64_t step = 0; step < 10; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    if (step == 5) moved_net->to(kCuda);  // Adam's moments are on the CPU now; the next step moves them
    const Device device = step < 5 ? Device(kCPU) : kCuda;
    const Tensor x = inputs[step], y = labels[step];

    const Tensor cpu_loss = train_step(*cpu_net, cpu_opt, x, y, kCPU);
    const Tensor loss = train_step(*moved_net, moved_opt, x, y, device);
    const double expected = cpu_loss.item<double>(), actual = loss.item<double>();
    EXPECT_NEAR(actual, expected, 1e-4 * std::abs(expected));
  }
  for (const auto& [index, state] : moved_opt.state())
    for (const auto& [name, buffer] : state.buffers()) EXPECT_TRUE(buffer.is_cuda()) << "state " << index << "." << name;
  expect_same_parameters(*cpu_net, *moved_net);
}

}  // namespace
}  // namespace tandem
