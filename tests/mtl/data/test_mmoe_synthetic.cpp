// The MMoE synthetic regression: cos(w1, w2) = p, exact linearity without sines and noise, label correlation
// that grows with p, reproducibility, and the seeded normal draws it is built on.
#include <gtest/gtest.h>

#include <cmath>

#include "mtl/data/mmoe_synthetic.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;
using mtl::make_mmoe_synthetic;
using mtl::MmoeSyntheticOptions;

bool identical(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && allclose(a.to(kFloat64), b.to(kFloat64), /*rtol=*/0, /*atol=*/0);
}

double pearson(const Tensor& a, const Tensor& b) {
  const Tensor x = a.to(kFloat64).reshape({-1}), y = b.to(kFloat64).reshape({-1});
  const Tensor dx = x - x.mean(), dy = y - y.mean();
  return (dx * dy).sum().item<double>() / std::sqrt((dx * dx).sum().item<double>() * (dy * dy).sum().item<double>());
}

TEST(MtlMmoeSynthetic, ShapesAndTaskNames) {
  mtl::MultiTaskDataset data = make_mmoe_synthetic(64, 0.5, 1);
  EXPECT_EQ(data.inputs.sizes(), Dims({64, 100}));
  EXPECT_EQ(data.inputs.dtype(), kFloat32);
  ASSERT_EQ(data.num_tasks(), 2u);
  for (const Tensor& target : data.targets) {
    EXPECT_EQ(target.sizes(), Dims({64, 1}));
    EXPECT_EQ(target.dtype(), kFloat32);
  }
  EXPECT_EQ(mtl::kMmoeSyntheticTaskNames.size(), 2u);
  MmoeSyntheticOptions small;
  small.input_dim = 7;
  EXPECT_EQ(make_mmoe_synthetic(5, 0.2, 1, small).inputs.sizes(), Dims({5, 7}));
}

TEST(MtlMmoeSynthetic, CosineOfTaskWeightsIsTheCorrelation) {
  for (double p : {-0.5, 0.0, 0.3, 0.9, 1.0}) {
    const mtl::MmoeSyntheticProblem problem = mtl::mmoe_synthetic_problem(p, 42);
    ASSERT_EQ(problem.w1.sizes(), Dims({100}));
    ASSERT_EQ(problem.w2.sizes(), Dims({100}));
    const double n1 = problem.w1.norm().item<double>(), n2 = problem.w2.norm().item<double>();
    EXPECT_NEAR(n1, 3.0, 1e-12);
    EXPECT_NEAR(n2, 3.0, 1e-12);
    EXPECT_NEAR(problem.w1.dot(problem.w2).item<double>() / (n1 * n2), p, 1e-12) << "p = " << p;
    EXPECT_EQ(problem.alpha.sizes(), Dims({4}));
    EXPECT_EQ(problem.beta.sizes(), Dims({4}));
  }
  // The directions depend only on the seed: the same u1 whatever p.
  const auto a = mtl::mmoe_synthetic_problem(0.1, 42), b = mtl::mmoe_synthetic_problem(0.8, 42);
  EXPECT_TRUE(identical(a.w1, b.w1));
  EXPECT_TRUE(identical(a.alpha, b.alpha));
  EXPECT_FALSE(identical(a.w1, mtl::mmoe_synthetic_problem(0.1, 43).w1));
}

TEST(MtlMmoeSynthetic, LinearWithoutSinesAndNoise) {
  MmoeSyntheticOptions linear;
  linear.num_sines = 0;
  linear.noise_std = 0;
  const double p = 0.7;
  const uint64_t seed = 3;
  mtl::MultiTaskDataset data = make_mmoe_synthetic(200, p, seed, linear);
  const mtl::MmoeSyntheticProblem problem = mtl::mmoe_synthetic_problem(p, seed, linear);
  const Tensor x = data.inputs.to(kFloat64);
  EXPECT_TRUE(allclose(data.targets[0].to(kFloat64), x.matmul(problem.w1).unsqueeze(1), 1e-6, 1e-6));
  EXPECT_TRUE(allclose(data.targets[1].to(kFloat64), x.matmul(problem.w2).unsqueeze(1), 1e-6, 1e-6));
  // With the sines and the noise the labels are no longer linear in x.
  mtl::MultiTaskDataset full = make_mmoe_synthetic(200, p, seed);
  EXPECT_FALSE(allclose(full.targets[0].to(kFloat64), x.matmul(problem.w1).unsqueeze(1), 1e-3, 1e-3));
}

TEST(MtlMmoeSynthetic, NoiseHasTheRequestedSpread) {
  // Same problem and inputs with and without noise: the difference is ε, N(0, 0.01).
  MmoeSyntheticOptions quiet;
  quiet.noise_std = 0;
  mtl::MultiTaskDataset noisy = make_mmoe_synthetic(4000, 0.5, 8), clean = make_mmoe_synthetic(4000, 0.5, 8, quiet);
  EXPECT_TRUE(identical(noisy.inputs, clean.inputs));
  const Tensor eps = (noisy.targets[0].to(kFloat64) - clean.targets[0].to(kFloat64)).reshape({-1});
  EXPECT_NEAR(eps.std().item<double>(), 0.1, 0.01);
  EXPECT_NEAR(eps.mean().item<double>(), 0.0, 0.01);
}

TEST(MtlMmoeSynthetic, LabelCorrelationGrowsWithP) {
  const int64_t n = 3000;
  auto correlation = [&](double p) {
    mtl::MultiTaskDataset data = make_mmoe_synthetic(n, p, 17);
    return pearson(data.targets[0], data.targets[1]);
  };
  const double r1 = correlation(1.0), r05 = correlation(0.5), r0 = correlation(0.0);
  EXPECT_GT(r1, 0.95);
  EXPECT_LT(r05, r1 - 0.2);
  EXPECT_GT(r05, r0 + 0.1);
  EXPECT_LT(std::abs(r0), 0.2);
}

TEST(MtlMmoeSynthetic, ReproducibleForASeed) {
  mtl::MultiTaskDataset a = make_mmoe_synthetic(50, 0.4, 5), b = make_mmoe_synthetic(50, 0.4, 5),
                        c = make_mmoe_synthetic(50, 0.4, 6);
  EXPECT_TRUE(identical(a.inputs, b.inputs));
  EXPECT_TRUE(identical(a.targets[0], b.targets[0]));
  EXPECT_TRUE(identical(a.targets[1], b.targets[1]));
  EXPECT_FALSE(identical(a.inputs, c.inputs));
  EXPECT_FALSE(identical(a.targets[0], c.targets[0]));
}

TEST(MtlMmoeSynthetic, Errors) {
  EXPECT_THROW(make_mmoe_synthetic(0, 0.5, 0), Error);
  EXPECT_THROW(make_mmoe_synthetic(10, 1.5, 0), Error);
  EXPECT_THROW(make_mmoe_synthetic(10, -1.01, 0), Error);
  EXPECT_THROW(make_mmoe_synthetic(10, std::nan(""), 0), Error);
  MmoeSyntheticOptions bad;
  bad.input_dim = 1;
  EXPECT_THROW(make_mmoe_synthetic(10, 0.5, 0, bad), Error);
  bad = {};
  bad.num_sines = -1;
  EXPECT_THROW(make_mmoe_synthetic(10, 0.5, 0, bad), Error);
  bad = {};
  bad.noise_std = -0.1;
  EXPECT_THROW(make_mmoe_synthetic(10, 0.5, 0, bad), Error);
  bad = {};
  bad.scale = 0;
  EXPECT_THROW(mtl::mmoe_synthetic_problem(0.5, 0, bad), Error);
}

TEST(MtlSeededStandardNormal, MomentsAndReproducibility) {
  const Tensor z = mtl::seeded_standard_normal({20001}, 99);  // odd: the last pair keeps one value
  EXPECT_EQ(z.dtype(), kFloat64);
  EXPECT_NEAR(z.mean().item<double>(), 0.0, 0.03);
  EXPECT_NEAR(z.std().item<double>(), 1.0, 0.03);
  // About 68.3 % of the draws within one standard deviation.
  EXPECT_NEAR(z.abs().lt(1.0).to(kFloat64).mean().item<double>(), 0.683, 0.02);
  EXPECT_TRUE(identical(z, mtl::seeded_standard_normal({20001}, 99)));
  EXPECT_FALSE(identical(z, mtl::seeded_standard_normal({20001}, 100)));
  EXPECT_EQ(mtl::seeded_standard_normal({3, 0}, 1).numel(), 0);
}

}  // namespace
