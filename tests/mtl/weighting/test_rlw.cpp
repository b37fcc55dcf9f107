// rlw: weights softmax(ε) with ε drawn from tandem's seeded generator (reproducible after manual_seed), fresh
// every step, and the gradients of the combined loss.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "mtl/weighting/rlw.h"
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

std::vector<double> one_step(mtl::RLW& rlw, std::vector<Tensor>* losses_out = nullptr) {
  LossOnlyModel model(rlw.num_tasks());
  std::vector<Tensor> losses;
  for (size_t t = 0; t < rlw.num_tasks(); ++t)
    losses.push_back(scalar_tensor(1.0 + static_cast<double>(t)).requires_grad_(true));
  mtl::StepContext context{model, losses};
  auto weights = rlw.backward(context).weights;
  if (losses_out) *losses_out = losses;
  return weights;
}

TEST(RLW, WeightsAreTheSoftmaxOfAStandardNormalDraw) {
  mtl::RLW rlw(4);
  manual_seed(11);
  std::vector<Tensor> losses;
  const std::vector<double> weights = one_step(rlw, &losses);

  // The same draw, by hand: softmax of the first four standard normals after manual_seed(11).
  manual_seed(11);
  const std::vector<double> epsilon = randn({4}, kFloat64).to_vector<double>();
  double total = 0;
  for (double e : epsilon) total += std::exp(e);
  ASSERT_EQ(weights.size(), 4u);
  double weight_sum = 0;
  for (size_t t = 0; t < 4; ++t) {
    EXPECT_NEAR(weights[t], std::exp(epsilon[t]) / total, 1e-12) << t;
    EXPECT_NEAR(losses[t].grad().item<double>(), weights[t], 1e-6) << t;
    weight_sum += weights[t];
  }
  EXPECT_NEAR(weight_sum, 1.0, 1e-12);
}

TEST(RLW, ReproducibleAfterManualSeedAndFreshEveryStep) {
  mtl::RLW rlw(3);
  manual_seed(5);
  const auto first = one_step(rlw), second = one_step(rlw);
  EXPECT_NE(first, second);
  manual_seed(5);
  EXPECT_EQ(one_step(rlw), first);
  EXPECT_EQ(one_step(rlw), second);
  EXPECT_TRUE(rlw.parameters().empty());
  EXPECT_TRUE(rlw.buffers().empty());
  EXPECT_THROW(mtl::RLW(3, mtl::WeightingOptions{{"seed", "1"}}), Error);
}

}  // namespace
