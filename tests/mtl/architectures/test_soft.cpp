// Soft sharing: shapes, no shared parameters, isolation, the L2 tie against a hand computation, errors, training.
#include <gtest/gtest.h>

#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem_test;

mtl::SoftSharing make_soft(size_t tasks, double lambda = 0.1) {
  return mtl::SoftSharing(task_names(tasks), [] { return mlp(4, 5, 3); }, linear_heads(3, 2),
                          mtl::SoftSharingOptions().lambda(lambda));
}

TEST(SoftSharing, OutputShapesAndNames) {
  manual_seed(10);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_soft(tasks);
    auto outputs = model->forward(randn({7, 4}));
    ASSERT_EQ(outputs.size(), tasks);
    for (const Tensor& out : outputs) EXPECT_EQ(out.sizes(), Dims({7, 2}));
  }
  auto model = make_soft(2);
  const auto names = model->named_parameters().keys();
  EXPECT_EQ(names.front(), "encoders.t0.0.weight");
  EXPECT_EQ(names.back(), "heads.t1.0.bias");
}

TEST(SoftSharing, EverythingBelongsToATask) {
  manual_seed(11);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_soft(tasks);
    expect_parameter_partition(*model);
    EXPECT_TRUE(model->shared_parameters().empty());
    EXPECT_FALSE(model->has_representation());
    expect_task_isolation(*model, randn({6, 4}));
  }
}

TEST(SoftSharing, ForwardTaskMatchesForward) {
  manual_seed(12);
  auto model = make_soft(3);
  Tensor x = randn({4, 4});
  auto outputs = model->forward(x);
  for (size_t t = 0; t < 3; ++t) EXPECT_TRUE(allclose(outputs[t], model->forward_task(x, t)));
}

TEST(SoftSharing, RegularizationMatchesHandComputation) {
  manual_seed(13);
  const double lambda = 0.25;
  auto model = make_soft(3, lambda);
  // λ Σ_{i<j} Σ_p ‖θ_i^p − θ_j^p‖², written out over the raw values.
  std::vector<std::vector<std::vector<double>>> values;  // [task][param][element]
  for (const char* name : {"t0", "t1", "t2"}) {
    std::vector<std::vector<double>> params;
    for (const Tensor& p : model->encoders[name]->parameters()) params.push_back(p.to_vector<double>());
    values.push_back(params);
  }
  double expected = 0;
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = i + 1; j < 3; ++j)
      for (size_t p = 0; p < values[i].size(); ++p)
        for (size_t e = 0; e < values[i][p].size(); ++e) {
          const double d = values[i][p][e] - values[j][p][e];
          expected += d * d;
        }
  expected *= lambda;
  Tensor reg = model->regularization();
  ASSERT_TRUE(reg.defined());
  EXPECT_EQ(reg.dim(), 0);
  EXPECT_NEAR(reg.item<double>(), expected, 1e-5 * expected);

  // Its gradient for task 0's encoder: 2λ Σ_{j≠0} (θ_0 − θ_j).
  reg.backward();
  const Tensor w0 = parameter(*model, "encoders.t0.0.weight"), w1 = parameter(*model, "encoders.t1.0.weight"),
               w2 = parameter(*model, "encoders.t2.0.weight");
  EXPECT_TRUE(allclose(w0.grad(), ((w0 - w1) + (w0 - w2)).detach() * (2 * lambda), 1e-5, 1e-6));
}

TEST(SoftSharing, RegularizationIsUndefinedWhenOff) {
  auto model = make_soft(2, 0.0);
  EXPECT_FALSE(model->regularization().defined());
  auto single = mtl::SoftSharing(task_names(1), [] { return mlp(4, 5, 3); }, linear_heads(3, 2));
  EXPECT_FALSE(single->regularization().defined());
}

TEST(SoftSharing, PrettyPrintAndErrors) {
  manual_seed(14);
  auto model = make_soft(2, 0.5);
  EXPECT_EQ(printed(*model), "SoftSharing(tasks=[t0, t1], lambda=0.5)");
  expect_error([&] { model->forward(randn({3, 9})); }, {"SoftSharing", "[3, 9]"});
  expect_error([&] { make_soft(2, -1.0); }, {"SoftSharing", "lambda"});
  // Encoders of different structure cannot be tied.
  int64_t width = 3;
  expect_error(
      [&] {
        mtl::SoftSharing(task_names(2), [&] { return nn::Sequential(nn::Linear(4, width++)); }, linear_heads(3, 2));
      },
      {"SoftSharing", "shape"});
}

TEST(SoftSharing, AdamStepsLowerTheLoss) {
  manual_seed(15);
  Tensor x = randn({32, 4});
  auto targets = two_task_targets(x);
  auto model = mtl::SoftSharing(task_names(2), [] { return mlp(4, 16, 8); }, linear_heads(8, 1),
                                mtl::SoftSharingOptions().lambda(1e-3));
  expect_training_lowers_loss(*model, x, targets);
}

}  // namespace
