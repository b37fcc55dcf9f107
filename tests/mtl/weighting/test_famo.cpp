// famo: the combined loss Σ c z_t log D_t and its gradient, the Adam update of the logits ξ against a hand
// computation, the direction of the update (a task whose loss goes down less gets more weight), and the state
// surviving a checkpoint of the buffers.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "mtl/weighting/famo.h"
#include "nn/serialize/checkpoint.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;

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

struct InspectableFAMO : mtl::FAMO {
  using mtl::FAMO::combine;
  using mtl::FAMO::FAMO;
};

std::vector<Tensor> leaf_losses(const std::vector<double>& values) {
  std::vector<Tensor> losses;
  for (double v : values) losses.push_back(scalar_tensor(v, kFloat64).requires_grad_(true));
  return losses;
}

mtl::WeightingReport step(mtl::FAMO& famo, const std::vector<double>& before, const std::vector<double>& after) {
  LossOnlyModel model(famo.num_tasks());
  mtl::StepContext context{model, leaf_losses(before)};
  const mtl::WeightingReport report = famo.backward(context);
  famo.after_step_losses(after);
  return report;
}

TEST(FAMO, DefaultsAndOptions) {
  mtl::FAMO famo(3);
  EXPECT_EQ(famo.lr(), 0.025);
  EXPECT_EQ(famo.weight_decay(), 1e-3);
  EXPECT_EQ(famo.epsilon(), 1e-8);
  EXPECT_TRUE(famo.needs_losses_after_step());
  EXPECT_TRUE(famo.parameters().empty());  // ξ is FAMO's own, not the model optimizer's
  for (double z : famo.task_weights()) EXPECT_NEAR(z, 1.0 / 3, 1e-15);
  mtl::FAMO custom(2, mtl::WeightingOptions{{"lr", "0.1"}, {"weight_decay", "0"}, {"epsilon", "1e-6"}});
  EXPECT_EQ(custom.lr(), 0.1);
  EXPECT_EQ(custom.weight_decay(), 0.0);
  EXPECT_EQ(custom.epsilon(), 1e-6);
  EXPECT_THROW(mtl::FAMO(2, mtl::WeightingOptions{{"lr", "0"}}), Error);
  EXPECT_THROW(mtl::FAMO(2, mtl::WeightingOptions{{"weight_decay", "-1"}}), Error);
  EXPECT_THROW(mtl::FAMO(2, mtl::WeightingOptions{{"gamma", "0.01"}}), Error);
}

TEST(FAMO, CombinedLossAndGradientAtEqualLogits) {
  // z = 1/3, L = (0.5, 2, 4), ε = 0: c = 1 / Σ z_t / L_t = 1 / (11/12) = 12/11; the loss is c/3 · Σ log L_t
  // = (4/11) log 4 and its gradient c z_t / L_t = (8/11, 2/11, 1/11).
  InspectableFAMO famo(3, mtl::WeightingOptions{{"epsilon", "0"}});
  LossOnlyModel model(3);
  mtl::StepContext context{model, leaf_losses({0.5, 2.0, 4.0})};
  std::vector<double> weights;
  const Tensor loss = famo.combine(context, weights);
  EXPECT_NEAR(loss.item<double>(), 4.0 / 11 * std::log(4.0), 1e-12);
  const std::vector<double> expected = {8.0 / 11, 2.0 / 11, 1.0 / 11};
  loss.backward();
  for (size_t t = 0; t < 3; ++t) {
    EXPECT_NEAR(weights[t], expected[t], 1e-12) << t;
    EXPECT_NEAR(context.losses[t].grad().item<double>(), expected[t], 1e-12) << t;
  }
}

TEST(FAMO, LogitUpdateMatchesAHandComputation) {
  mtl::FAMO famo(3, mtl::WeightingOptions{{"epsilon", "0"}});
  // Step 1. δ = log(before / after) = (log 1.25, log 2, log(4/3.8)); with z = 1/3 the softmax Jacobian gives
  // g_t = (δ_t − mean δ) / 3 = (−0.0331282, 0.1235397, −0.0904116); ξ = 0 so weight decay adds nothing. Adam's
  // first step moves each logit by lr · g / (|g| + 1e-8), i.e. by ∓0.025 up to 1e-8 relative.
  step(famo, {0.5, 2.0, 4.0}, {0.4, 1.0, 3.8});
  const std::vector<double> g1 = {-0.033128152479897366, 0.1235397239353478, -0.09041157145545047};
  std::vector<double> xi(3), m(3), v(3);
  for (size_t t = 0; t < 3; ++t) {
    m[t] = 0.1 * g1[t];
    v[t] = 0.001 * g1[t] * g1[t];
    xi[t] = -0.025 * g1[t] / (std::abs(g1[t]) + 1e-8);
  }
  const auto buffers = famo.named_buffers();
  const std::vector<double> xi1 = buffers["logits"].to_vector<double>();
  for (size_t t = 0; t < 3; ++t) EXPECT_NEAR(xi1[t], xi[t], 1e-12) << t;
  EXPECT_NEAR(xi1[0], 0.025, 1e-8);
  EXPECT_NEAR(xi1[1], -0.025, 1e-8);
  EXPECT_EQ(buffers["adam_steps"].item<int64_t>(), 1);

  // Step 2, written out: z = softmax(ξ), δ, g = z ⊙ (δ − z·δ) + 1e-3 ξ, Adam with bias corrections for step 2.
  step(famo, {0.4, 1.0, 3.8}, {0.3, 0.9, 3.0});
  const std::vector<double> delta = {std::log(0.4 / 0.3), std::log(1.0 / 0.9), std::log(3.8 / 3.0)};
  double total = 0;
  std::vector<double> z(3);
  for (size_t t = 0; t < 3; ++t) total += (z[t] = std::exp(xi[t]));
  double mean_delta = 0;
  for (size_t t = 0; t < 3; ++t) mean_delta += (z[t] /= total) * delta[t];
  for (size_t t = 0; t < 3; ++t) {
    const double g = z[t] * (delta[t] - mean_delta) + 1e-3 * xi[t];
    m[t] = 0.9 * m[t] + 0.1 * g;
    v[t] = 0.999 * v[t] + 0.001 * g * g;
    xi[t] -= 0.025 * (m[t] / (1 - 0.81)) / (std::sqrt(v[t] / (1 - 0.999 * 0.999)) + 1e-8);
  }
  const std::vector<double> xi2 = famo.named_buffers()["logits"].to_vector<double>();
  const std::vector<double> m2 = famo.named_buffers()["adam_first_moment"].to_vector<double>();
  const std::vector<double> v2 = famo.named_buffers()["adam_second_moment"].to_vector<double>();
  for (size_t t = 0; t < 3; ++t) {
    EXPECT_NEAR(xi2[t], xi[t], 1e-12) << t;
    EXPECT_NEAR(m2[t], m[t], 1e-15) << t;
    EXPECT_NEAR(v2[t], v[t], 1e-15) << t;
  }
}

TEST(FAMO, TaskWhoseLossDecreasesLessGetsMoreWeight) {
  mtl::FAMO famo(2);
  // Task 0 goes down by 5% per step, task 1 by 40%.
  double a = 1.0, b = 1.0;
  mtl::WeightingReport report;
  for (int k = 0; k < 20; ++k) {
    report = step(famo, {a, b}, {0.95 * a, 0.6 * b});
    a *= 0.95;
    b *= 0.6;
  }
  const std::vector<double> z = famo.task_weights();
  EXPECT_GT(z[0], 0.6);
  EXPECT_LT(z[1], 0.4);
  EXPECT_NEAR(z[0] + z[1], 1.0, 1e-12);
  // The reported weights c z_t / D_t always sum to 1.
  EXPECT_NEAR(report.weights[0] + report.weights[1], 1.0, 1e-12);
}

TEST(FAMO, StateSurvivesAStateDictRoundTrip) {
  mtl::FAMO trained(3);
  step(trained, {0.5, 2.0, 4.0}, {0.4, 1.0, 3.8});
  step(trained, {0.4, 1.0, 3.8}, {0.3, 0.9, 3.0});
  mtl::FAMO resumed(3);
  EXPECT_TRUE(load_state_dict(resumed, module_state_dict(trained)).ok());
  EXPECT_EQ(resumed.task_weights(), trained.task_weights());
  const auto a = step(trained, {0.3, 0.9, 3.0}, {0.25, 0.8, 2.5});
  const auto b = step(resumed, {0.3, 0.9, 3.0}, {0.25, 0.8, 2.5});
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(resumed.named_buffers()["logits"].to_vector<double>(),
            trained.named_buffers()["logits"].to_vector<double>());
  EXPECT_EQ(resumed.named_buffers()["adam_second_moment"].to_vector<double>(),
            trained.named_buffers()["adam_second_moment"].to_vector<double>());
}

TEST(FAMO, Errors) {
  mtl::FAMO famo(2);
  EXPECT_THROW(famo.after_step_losses({1.0, 1.0}), Error);  // no combined step before
  LossOnlyModel model(2);
  mtl::StepContext context{model, leaf_losses({1.0, 2.0})};
  famo.backward(context);
  EXPECT_THROW(famo.after_step_losses({1.0}), Error);
  EXPECT_THROW(famo.after_step_losses({1.0, -1.0}), Error);
  famo.after_step_losses({0.9, 1.9});
  EXPECT_THROW(famo.after_step_losses({0.8, 1.8}), Error);  // once per combined step
  mtl::StepContext negative{model, leaf_losses({1.0, -0.5})};
  EXPECT_THROW(famo.backward(negative), Error);
}

}  // namespace
