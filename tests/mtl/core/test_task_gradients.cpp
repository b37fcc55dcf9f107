// Per-task gradients (the T x D buffer, the Gramian, the combination) and the GradientWeighting backward that
// stands on them: checked against gradients taken one task at a time with autograd::grad.
#include <gtest/gtest.h>

#include <tandem.h>

#include "mtl/core/tiny_model.h"

using namespace tandem;
using tandem::mtl::testing::TinyModel;

namespace {

std::vector<Tensor> task_losses(TinyModel& model, const Tensor& x, const Tensor& y) {
  auto out = model->forward(x);
  return {mse_loss(out[0], y.select(1, 0).unsqueeze(1)), mse_loss(out[1], y.select(1, 1).unsqueeze(1))};
}

Tensor flat_grad(const Tensor& loss, const std::vector<Tensor>& params) {
  auto g = autograd::grad({loss}, params, {}, true, false, true);
  std::vector<Tensor> flat;
  for (size_t i = 0; i < g.size(); ++i) flat.push_back(g[i].defined() ? g[i].reshape({-1}) : zeros_like(params[i]).reshape({-1}));
  return cat(flat, 0);
}

/// A method with fixed weights, to check the plumbing of GradientWeighting.
class FixedCombination : public mtl::GradientWeighting {
 public:
  FixedCombination(std::vector<double> weights, mtl::SharedScope scope)
      : GradientWeighting("fixed_combination", weights.size(), scope), weights_(std::move(weights)) {}
  Tensor seen_gramian;

 protected:
  mtl::GradientCombination combine(const mtl::GradientInputs& in) override {
    seen_gramian = in.gramian.clone();
    return {weights_, {}};
  }

 private:
  std::vector<double> weights_;
};

}  // namespace

TEST(TaskGradients, RowsAreThePerTaskGradientsOfTheSharedParameters) {
  manual_seed(1);
  TinyModel model;
  Tensor x = randn({5, 3}, kFloat64), y = randn({5, 2}, kFloat64);
  auto losses = task_losses(model, x, y);
  auto shared = model->shared_parameters();
  ASSERT_EQ(shared.size(), 2u);  // encoder weight and bias
  mtl::TaskGradients grads;
  grads.compute(losses, shared, [&](size_t t) { return model->task_parameters(t); });
  ASSERT_EQ(grads.matrix().sizes(), (Dims{2, 16}));
  EXPECT_EQ(grads.offsets(), (std::vector<int64_t>{0, 12, 16}));
  for (int t = 0; t < 2; ++t) EXPECT_TRUE(allclose(grads.matrix()[t], flat_grad(losses[t], shared), 1e-12, 1e-12));
  // Heads received their own task's gradient only.
  EXPECT_TRUE(allclose(model->head_a->weight.grad().reshape({-1}), flat_grad(losses[0], {model->head_a->weight})));
  EXPECT_TRUE(allclose(model->head_b->bias.grad().reshape({-1}), flat_grad(losses[1], {model->head_b->bias})));
  // The Gramian and the combination.
  Tensor G = grads.matrix();
  EXPECT_TRUE(allclose(grads.gramian(), G.matmul(G.t())));
  EXPECT_TRUE(allclose(grads.gramian(12, 16), G.narrow(1, 12, 4).matmul(G.narrow(1, 12, 4).t())));
  EXPECT_TRUE(allclose(grads.combine({2.0, -1.0}), G[0] * 2.0 - G[1]));
  EXPECT_THROW(grads.combine({1.0}), Error);
  EXPECT_THROW(grads.gramian(3, 20), Error);
}

TEST(TaskGradients, BufferIsReusedAcrossSteps) {
  TinyModel model;
  Tensor x = randn({4, 3}, kFloat64), y = randn({4, 2}, kFloat64);
  mtl::TaskGradients grads;
  grads.compute(task_losses(model, x, y), model->shared_parameters());
  const void* first = grads.matrix().data_ptr();
  grads.compute(task_losses(model, x * 2.0, y), model->shared_parameters());
  EXPECT_EQ(grads.matrix().data_ptr(), first);
}

TEST(TaskGradients, UnreachedSharedInputGivesZeros) {
  Tensor a = randn({3}, TensorOptions(kFloat64).requires_grad(true));
  Tensor b = randn({2}, TensorOptions(kFloat64).requires_grad(true));
  mtl::TaskGradients grads;
  grads.compute({(a * 2.0).sum(), (b * 3.0).sum()}, {a, b});
  EXPECT_EQ(grads.matrix().to_vector<double>(), (std::vector<double>{2, 2, 2, 0, 0, 0, 0, 0, 3, 3}));
  EXPECT_EQ(grads.gramian().to_vector<double>(), (std::vector<double>{12, 0, 0, 18}));
}

TEST(GradientWeighting, SharedGradientIsTheCombinationAndHeadsKeepTheirOwn) {
  manual_seed(2);
  TinyModel model;
  Tensor x = randn({6, 3}, kFloat64), y = randn({6, 2}, kFloat64);
  auto losses = task_losses(model, x, y);
  Tensor g0 = flat_grad(losses[0], model->shared_parameters()), g1 = flat_grad(losses[1], model->shared_parameters());
  Tensor head_a = flat_grad(losses[0], model->head_a->parameters());
  FixedCombination method({0.25, 1.5}, mtl::SharedScope::kParameters);
  mtl::StepContext context{*model, losses};
  auto report = method.backward(context);
  EXPECT_EQ(report.weights, (std::vector<double>{0.25, 1.5}));
  ASSERT_NE(report.gradients, nullptr);
  Tensor expected = g0 * 0.25 + g1 * 1.5;
  Tensor got = cat({model->encoder->weight.grad().reshape({-1}), model->encoder->bias.grad().reshape({-1})}, 0);
  EXPECT_TRUE(allclose(got, expected, 1e-12, 1e-12));
  EXPECT_TRUE(allclose(cat({model->head_a->weight.grad().reshape({-1}), model->head_a->bias.grad().reshape({-1})}, 0),
                       head_a, 1e-12, 1e-12));
  EXPECT_TRUE(allclose(method.seen_gramian, report.gradients->gramian()));
}

TEST(GradientWeighting, LastSharedLayerScopeTakesTheGramianFromThatLayer) {
  manual_seed(3);
  TinyModel model;
  Tensor x = randn({6, 3}, kFloat64), y = randn({6, 2}, kFloat64);
  auto losses = task_losses(model, x, y);
  // The encoder is one Linear: its parameters are the last shared layer.
  EXPECT_EQ(model->last_shared_parameters().size(), 2u);
  FixedCombination method({1.0, 1.0}, mtl::SharedScope::kLastSharedLayer);
  mtl::StepContext context{*model, losses};
  auto report = method.backward(context);
  EXPECT_TRUE(allclose(method.seen_gramian, report.gradients->gramian()));
}

TEST(GradientWeighting, RepresentationScopeBackPropagatesTheCombinedGradientThroughTheEncoder) {
  manual_seed(4);
  TinyModel model, reference;
  {
    NoGradGuard no_grad;
    for (size_t i = 0; i < model->parameters().size(); ++i) reference->parameters()[i].copy_(model->parameters()[i]);
  }
  Tensor x = randn({6, 3}, kFloat64), y = randn({6, 2}, kFloat64);
  FixedCombination method({0.5, 2.0}, mtl::SharedScope::kRepresentation);
  auto fwd = mtl::forward_for(method, *model, x);
  ASSERT_TRUE(fwd.representation_leaf.defined());
  std::vector<Tensor> losses = {mse_loss(fwd.outputs[0], y.select(1, 0).unsqueeze(1)),
                                mse_loss(fwd.outputs[1], y.select(1, 1).unsqueeze(1))};
  mtl::StepContext context{*model, losses, fwd.representation, fwd.representation_leaf};
  auto report = method.backward(context);
  EXPECT_EQ(report.gradients->dim(), 6 * 4);
  // Same as back-propagating 0.5 L0 + 2 L1 through the reference encoder.
  auto ref_losses = task_losses(reference, x, y);
  (ref_losses[0] * 0.5 + ref_losses[1] * 2.0).backward();
  EXPECT_TRUE(allclose(model->encoder->weight.grad(), reference->encoder->weight.grad(), 1e-12, 1e-12));
  // The heads got their plain (unweighted) task gradient.
  auto plain = task_losses(reference, x, y);
  EXPECT_TRUE(allclose(model->head_b->weight.grad().reshape({-1}), flat_grad(plain[1], {reference->head_b->weight}),
                       1e-12, 1e-12));
}

TEST(GradientWeighting, RepresentationScopeNeedsTheRepresentation) {
  TinyModel model;
  Tensor x = randn({2, 3}, kFloat64), y = randn({2, 2}, kFloat64);
  FixedCombination method({1.0, 1.0}, mtl::SharedScope::kRepresentation);
  mtl::StepContext context{*model, task_losses(model, x, y)};
  EXPECT_THROW(method.backward(context), Error);
}

TEST(GradientWeighting, WrongNumberOfLossesIsAnError) {
  TinyModel model;
  FixedCombination method({1.0, 1.0}, mtl::SharedScope::kParameters);
  mtl::StepContext context{*model, {randn({1}, kFloat64)}};
  try {
    method.backward(context);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fixed_combination: got 1 losses for 2 tasks"), std::string::npos) << e.what();
  }
}
