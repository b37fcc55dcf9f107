// The GradNorm synthetic tasks: shapes, targets bounded by σ_i, the σ ratio between tasks, reproducibility.
#include <gtest/gtest.h>

#include "mtl/data/gradnorm_synthetic.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;
using mtl::GradNormSyntheticOptions;
using mtl::make_gradnorm_synthetic;

bool identical(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && allclose(a.to(kFloat64), b.to(kFloat64), /*rtol=*/0, /*atol=*/0);
}

TEST(MtlGradNormSynthetic, Shapes) {
  mtl::MultiTaskDataset data = make_gradnorm_synthetic(40, 1);
  EXPECT_EQ(data.inputs.sizes(), Dims({40, 250}));
  EXPECT_EQ(data.inputs.dtype(), kFloat32);
  ASSERT_EQ(data.num_tasks(), 2u);
  for (const Tensor& target : data.targets) {
    EXPECT_EQ(target.sizes(), Dims({40, 100}));
    EXPECT_EQ(target.dtype(), kFloat32);
  }
  GradNormSyntheticOptions three;
  three.sigmas = {1, 2, 3};
  three.input_dim = 6;
  three.output_dim = 5;
  mtl::MultiTaskDataset small = make_gradnorm_synthetic(4, 1, three);
  EXPECT_EQ(small.inputs.sizes(), Dims({4, 6}));
  ASSERT_EQ(small.num_tasks(), 3u);
  EXPECT_EQ(small.targets[2].sizes(), Dims({4, 5}));
  EXPECT_EQ(mtl::gradnorm_synthetic_task_names(3), (std::vector<std::string>{"task1", "task2", "task3"}));
}

TEST(MtlGradNormSynthetic, SigmaSetsEachTaskScale) {
  GradNormSyntheticOptions options;
  options.sigmas = {1.0, 100.0, 7.0};
  mtl::MultiTaskDataset data = make_gradnorm_synthetic(500, 4, options);
  std::vector<double> stds;
  for (size_t t = 0; t < 3; ++t) {
    const Tensor y = data.targets[t].to(kFloat64);
    // |σ tanh(·)| ≤ σ, and the targets are not degenerate.
    EXPECT_LE(y.abs().max().item<double>(), options.sigmas[t] * (1 + 1e-6));
    stds.push_back(y.std().item<double>());
    EXPECT_GT(stds.back(), 0.5 * options.sigmas[t]);
  }
  EXPECT_NEAR(stds[1] / stds[0], 100.0, 5.0);
  EXPECT_NEAR(stds[2] / stds[0], 7.0, 0.35);
}

TEST(MtlGradNormSynthetic, TasksShareStructure) {
  // Same B, different ε_i: with σ equal, the tasks' outputs agree in sign far more often than chance.
  GradNormSyntheticOptions options;
  options.sigmas = {1.0, 1.0};
  mtl::MultiTaskDataset data = make_gradnorm_synthetic(200, 2, options);
  const double same_sign = (data.targets[0] * data.targets[1]).gt(0.0).to(kFloat64).mean().item<double>();
  EXPECT_GT(same_sign, 0.8);
  EXPECT_LT(same_sign, 1.0);  // but the tasks are not identical
}

TEST(MtlGradNormSynthetic, ReproducibleForASeed) {
  mtl::MultiTaskDataset a = make_gradnorm_synthetic(30, 5), b = make_gradnorm_synthetic(30, 5),
                        c = make_gradnorm_synthetic(30, 6);
  EXPECT_TRUE(identical(a.inputs, b.inputs));
  EXPECT_TRUE(identical(a.targets[0], b.targets[0]));
  EXPECT_TRUE(identical(a.targets[1], b.targets[1]));
  EXPECT_FALSE(identical(a.inputs, c.inputs));
  EXPECT_FALSE(identical(a.targets[1], c.targets[1]));
}

TEST(MtlGradNormSynthetic, Errors) {
  EXPECT_THROW(make_gradnorm_synthetic(0, 1), Error);
  GradNormSyntheticOptions bad;
  bad.sigmas = {};
  EXPECT_THROW(make_gradnorm_synthetic(10, 1, bad), Error);
  bad = {};
  bad.output_dim = 0;
  EXPECT_THROW(make_gradnorm_synthetic(10, 1, bad), Error);
  bad = {};
  bad.task_std = -1;
  EXPECT_THROW(make_gradnorm_synthetic(10, 1, bad), Error);
}

}  // namespace
