// uw: the combined loss, its gradients with respect to the task losses and the log-variances, and the optimum
// s_t = log L_t reached by an optimizer on s alone.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "mtl/weighting/uw.h"
#include "nn/optim/adam.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;

// A model with no parameters: the loss weightings only need one to build a StepContext.
struct LossOnlyModel : mtl::MultiTaskModel {
  explicit LossOnlyModel(size_t num_tasks) : MultiTaskModel(task_names_for(num_tasks)) {}
  static std::vector<std::string> task_names_for(size_t n) {
    std::vector<std::string> names;
    for (size_t t = 0; t < n; ++t) names.push_back("task" + std::to_string(t));
    return names;
  }
  std::vector<Tensor> forward(const Tensor&) override { return {}; }
  std::vector<Tensor> task_parameters(size_t) const override { return {}; }
};

// Exposes combine() to check the value of the combined loss.
struct InspectableUW : mtl::UW {
  using mtl::UW::combine;
  using mtl::UW::UW;
};

std::vector<Tensor> leaf_losses(const std::vector<double>& values) {
  std::vector<Tensor> losses;
  for (double v : values) losses.push_back(scalar_tensor(v, kFloat64).requires_grad_(true));
  return losses;
}

TEST(UW, StartsAtMinusHalfAndHasNoOptions) {
  mtl::UW uw(3);
  EXPECT_EQ(uw.method(), "uw");
  EXPECT_EQ(uw.log_variance().to_vector<double>(), (std::vector<double>{-0.5, -0.5, -0.5}));
  EXPECT_EQ(uw.parameters().size(), 1u);
  EXPECT_TRUE(uw.log_variance().requires_grad());
  EXPECT_THROW(mtl::UW(2, mtl::WeightingOptions{{"temperature", "2"}}), Error);
}

TEST(UW, CombinedLossValueAndWeights) {
  // s = -0.5: L = Σ [L_t e^{0.5} / 2 - 1/4] = 6.5 · e^{0.5} / 2 - 0.75 = 4.608344...
  InspectableUW uw(3);
  LossOnlyModel model(3);
  mtl::StepContext context{model, leaf_losses({0.5, 2.0, 4.0})};
  std::vector<double> weights;
  const Tensor loss = uw.combine(context, weights);
  EXPECT_NEAR(loss.item<double>(), 4.608344129775417, 1e-6);
  ASSERT_EQ(weights.size(), 3u);
  for (double w : weights) EXPECT_NEAR(w, 0.8243606353500641, 1e-6);  // e^{0.5} / 2
}

TEST(UW, GradientsMatchTheHandFormula) {
  // ∂/∂L_t = e^{-s_t}/2 and ∂/∂s_t = -L_t e^{-s_t}/2 + 1/2, here with s = (-0.5, 0.2, 1).
  mtl::UW uw(3);
  {
    NoGradGuard no_grad;
    Tensor s = uw.log_variance();
    s.copy_(tensor({-0.5, 0.2, 1.0}));
  }
  LossOnlyModel model(3);
  const std::vector<double> L = {0.5, 2.0, 4.0}, s = {-0.5, 0.2, 1.0};
  mtl::StepContext context{model, leaf_losses(L)};
  const mtl::WeightingReport report = uw.backward(context);
  const std::vector<double> s_grad = uw.log_variance().grad().to_vector<double>();
  for (size_t t = 0; t < 3; ++t) {
    const double weight = 0.5 * std::exp(-s[t]);
    EXPECT_NEAR(report.weights[t], weight, 1e-6) << t;
    EXPECT_NEAR(context.losses[t].grad().item<double>(), weight, 1e-6) << t;
    EXPECT_NEAR(s_grad[t], -L[t] * weight + 0.5, 1e-5) << t;
  }
}

TEST(UW, LogVariancesConvergeToTheLogOfFixedLosses) {
  // For a fixed L_t the optimum of L_t e^{-s}/2 + s/2 is s = log L_t.
  mtl::UW uw(3);
  LossOnlyModel model(3);
  optim::Adam optimizer(uw.parameters(), optim::AdamOptions(0.05));
  const std::vector<double> L = {0.5, 2.0, 4.0};
  for (int step = 0; step < 400; ++step) {
    optimizer.zero_grad();
    std::vector<Tensor> losses;
    for (double v : L) losses.push_back(scalar_tensor(v));
    mtl::StepContext context{model, losses};
    uw.backward(context);
    optimizer.step();
  }
  const std::vector<double> s = uw.log_variance().to_vector<double>();
  for (size_t t = 0; t < 3; ++t) EXPECT_NEAR(s[t], std::log(L[t]), 1e-2) << t;
}

TEST(UW, FloatLossesTrainFloatParameters) {
  mtl::UW uw(2);
  LossOnlyModel model(2);
  mtl::StepContext context{model, {scalar_tensor(1.0).requires_grad_(true), scalar_tensor(3.0).requires_grad_(true)}};
  uw.backward(context);
  EXPECT_EQ(uw.log_variance().grad().dtype(), kFloat32);
  EXPECT_NEAR(uw.log_variance().grad().to_vector<double>()[1], -3.0 * std::exp(0.5) / 2 + 0.5, 1e-5);
}

}  // namespace
