// gls: the geometric mean of the task losses, its gradient GLS / (T L_t), finite differences, and the
// rejection of losses whose logarithm does not exist.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "mtl/weighting/gls.h"
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

struct InspectableGLS : mtl::GLS {
  using mtl::GLS::combine;
  using mtl::GLS::GLS;
};

TEST(GLS, ValueIsTheGeometricMean) {
  // (0.5 · 2 · 4)^{1/3} = 4^{1/3} = 1.587401...
  InspectableGLS gls(3);
  LossOnlyModel model(3);
  mtl::StepContext context{model, {scalar_tensor(0.5, kFloat64), scalar_tensor(2.0, kFloat64),
                                   scalar_tensor(4.0, kFloat64)}};
  std::vector<double> weights;
  EXPECT_NEAR(gls.combine(context, weights).item<double>(), 1.5874010519681994, 1e-12);
  // A single task: the loss itself.
  InspectableGLS single(1);
  LossOnlyModel one(1);
  mtl::StepContext alone{one, {scalar_tensor(0.7, kFloat64)}};
  EXPECT_NEAR(single.combine(alone, weights).item<double>(), 0.7, 1e-12);
  EXPECT_NEAR(weights[0], 1.0, 1e-12);
}

TEST(GLS, GradientIsGlsOverTLoss) {
  // ∂GLS/∂L_t = GLS / (3 L_t) = (1.058267, 0.264567, 0.132283).
  mtl::GLS gls(3);
  LossOnlyModel model(3);
  std::vector<Tensor> losses;
  for (double v : {0.5, 2.0, 4.0}) losses.push_back(scalar_tensor(v, kFloat64).requires_grad_(true));
  mtl::StepContext context{model, losses};
  const mtl::WeightingReport report = gls.backward(context);
  const std::vector<double> expected = {1.0582673679787995, 0.2645668419946999, 0.13228342099734994};
  for (size_t t = 0; t < 3; ++t) {
    EXPECT_NEAR(losses[t].grad().item<double>(), expected[t], 1e-12) << t;
    EXPECT_NEAR(report.weights[t], expected[t], 1e-12) << t;
  }
}

TEST(GLS, GradcheckThroughOneElementLosses) {
  // Losses of shape [1] (one element, not 0-d), as a mean over a batch with keepdim would give.
  InspectableGLS gls(2);
  LossOnlyModel model(2);
  auto combined = [&](const autograd::variable_list& in) {
    mtl::StepContext context{model, {in[0], in[1]}};
    std::vector<double> weights;
    return gls.combine(context, weights);
  };
  auto a = (rand({1}, kFloat64) + 0.5).requires_grad_(true);
  auto b = (rand({1}, kFloat64) + 0.5).requires_grad_(true);
  EXPECT_TRUE(autograd::gradcheck(combined, {a, b}));
  EXPECT_TRUE(autograd::gradgradcheck(combined, {a, b}));
}

TEST(GLS, RejectsLossesWithoutALogarithm) {
  mtl::GLS gls(2);
  LossOnlyModel model(2);
  for (double bad : {0.0, -1.0}) {
    mtl::StepContext context{model, {scalar_tensor(1.0).requires_grad_(true), scalar_tensor(bad).requires_grad_(true)}};
    try {
      gls.backward(context);
      ADD_FAILURE() << "no error for loss " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("gls: the loss of task 1"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(mtl::GLS(2, mtl::WeightingOptions{{"alpha", "1"}}), Error);
}

}  // namespace
