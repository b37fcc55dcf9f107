// Tests of the backward engine (autograd/engine.cpp, node.cpp, tensor_autograd.cpp): gradient accumulation,
// retain_graph, create_graph and double backward, autograd::grad (allow_unused, several outputs with
// grad_outputs), hooks on leaves and non-leaves, retain_grad, NoGradGuard, detach, the graph's structure
// (grad_fn names, next_edges), diamond graphs, and the release of saved tensors after backward.
#include <gtest/gtest.h>
#include <tandem.h>

#include <cmath>
#include <memory>

namespace {

using namespace tandem;
using autograd::variable_list;

const TensorOptions kF64Grad = TensorOptions(kFloat64).requires_grad(true);

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

void expect_values_near(const Tensor& t, const std::vector<double>& expected, double tol = 1e-12) {
  std::vector<double> v = values(t);
  ASSERT_EQ(v.size(), expected.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], expected[i], tol) << "element " << i;
}

TEST(Engine, BackwardOfASum) {
  Tensor x = tensor({1.0, -2.0, 3.0}, requires_grad());
  Tensor y = (x * x).sum();  // dy/dx = 2x
  y.backward();
  expect_values_near(x.grad(), {2, -4, 6});
  EXPECT_EQ(x.grad().sizes(), x.sizes());
  EXPECT_FALSE(x.grad().requires_grad());
}

TEST(Engine, GradientsAccumulateOverBackwardCalls) {
  Tensor x = tensor({1.0, 2.0}, requires_grad());
  (x * 3).sum().backward();
  (x * x).sum().backward();
  expect_values_near(x.grad(), {3 + 2, 3 + 4});
  x.set_grad(Tensor());
  EXPECT_FALSE(x.grad().defined());
  (x * 3).sum().backward();
  expect_values_near(x.grad(), {3, 3});
}

TEST(Engine, ExplicitGradientForANonScalarOutput) {
  Tensor x = tensor({1.0, 2.0, 3.0}, requires_grad());
  Tensor y = x * x;
  y.backward(tensor({1.0, 0.5, -1.0}));
  expect_values_near(x.grad(), {2, 2, -6});
}

TEST(Engine, RetainGraphAllowsASecondBackward) {
  Tensor x = tensor({2.0}, requires_grad());
  Tensor y = (x * x * x).sum();
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward(Tensor(), /*retain_graph=*/true);
  expect_values_near(x.grad(), {2 * 12.0});
  y.backward();  // frees the graph
  EXPECT_THROW(y.backward(), Error);
}

TEST(Engine, CreateGraphGivesSecondAndThirdDerivatives) {
  // y = x^3: dy/dx = 3x^2 = 12, d2y/dx2 = 6x = 12, d3y/dx3 = 6 at x = 2.
  Tensor x = scalar_tensor(2.0, kF64Grad);
  Tensor y = x * x * x;
  variable_list g1 = autograd::grad({y}, {x}, {}, std::nullopt, /*create_graph=*/true);
  EXPECT_NEAR(g1[0].item<double>(), 12.0, 1e-12);
  ASSERT_TRUE(g1[0].requires_grad()) << "with create_graph the gradient is itself differentiable";
  variable_list g2 = autograd::grad({g1[0]}, {x}, {}, std::nullopt, /*create_graph=*/true);
  EXPECT_NEAR(g2[0].item<double>(), 12.0, 1e-12);
  variable_list g3 = autograd::grad({g2[0]}, {x});
  EXPECT_NEAR(g3[0].item<double>(), 6.0, 1e-12);
  EXPECT_FALSE(x.grad().defined()) << "autograd::grad must not touch .grad";
}

TEST(Engine, DoubleBackwardThroughTensorBackward) {
  Tensor x = tensor({1.0, 2.0}, requires_grad());
  Tensor y = (x * x * x).sum();
  y.backward(Tensor(), /*retain_graph=*/false, /*create_graph=*/true);
  Tensor first = x.grad();  // 3x^2, with a graph
  expect_values_near(first, {3, 12});
  ASSERT_TRUE(first.requires_grad());
  x.set_grad(Tensor());
  first.sum().backward();  // d/dx sum(3x^2) = 6x
  expect_values_near(x.grad(), {6, 12});
}

TEST(Engine, GradWithAllowUnused) {
  Tensor x = randn({3}, kF64Grad);
  Tensor unused = randn({2}, kF64Grad);
  Tensor y = (x * 2).sum();
  variable_list g = autograd::grad({y}, {x, unused}, {}, true, false, /*allow_unused=*/true);
  ASSERT_EQ(g.size(), 2u);
  expect_values_near(g[0], {2, 2, 2});
  EXPECT_FALSE(g[1].defined());
  EXPECT_THROW(autograd::grad({y}, {x, unused}), Error);
}

TEST(Engine, GradOfSeveralOutputsWithGradOutputs) {
  Tensor x = tensor({1.0, 2.0, 3.0}, requires_grad());
  Tensor y1 = x * 2;
  Tensor y2 = x * x;
  Tensor v1 = tensor({1.0, 1.0, 1.0}), v2 = tensor({0.5, -1.0, 2.0});
  variable_list g = autograd::grad({y1, y2}, {x}, {v1, v2});
  // 2 v1 + 2 x v2
  expect_values_near(g[0], {2 + 1, 2 - 4, 2 + 12});
  EXPECT_THROW(autograd::grad({y1, y2}, {x}, {v1}), Error) << "one gradient per output";
}

TEST(Engine, PerTaskGradientsOfASharedParameter) {
  // The multi-task pattern: the gradient of each task's loss with respect to shared weights, separately.
  Tensor w = tensor({1.0, -1.0}, requires_grad());
  Tensor features = w * 3;
  Tensor loss_a = (features * features).sum();  // 9 w^2 -> 18 w
  Tensor loss_b = features.sum();               // 3
  Tensor ga = autograd::grad({loss_a}, {w}, {}, /*retain_graph=*/true)[0];
  Tensor gb = autograd::grad({loss_b}, {w})[0];
  expect_values_near(ga, {18, -18});
  expect_values_near(gb, {3, 3});
}

TEST(Engine, BackwardOfSeveralRoots) {
  Tensor x = tensor({1.0, 2.0}, requires_grad());
  autograd::backward({(x * 2).sum(), (x * x).sum()});
  expect_values_near(x.grad(), {2 + 2, 2 + 4});
}

TEST(Engine, DiamondGraphRunsTheSharedNodeOnceWithTheSummedGradient) {
  Tensor x = tensor({1.0, 2.0}, requires_grad());
  Tensor a = x * 2;
  int calls = 0;
  std::vector<double> seen;
  a.register_hook([&](const Tensor& g) {
    ++calls;
    seen = g.to_vector<double>();
    return Tensor();
  });
  Tensor b = a * 3, c = a * 4;
  (b + c).sum().backward();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, (std::vector<double>{7, 7}));
  expect_values_near(x.grad(), {14, 14});
}

TEST(Engine, ATensorUsedTwiceGetsBothContributions) {
  Tensor x = tensor({3.0}, requires_grad());
  (x + x).sum().backward();
  expect_values_near(x.grad(), {2});
  x.set_grad(Tensor());
  (x * x).sum().backward();
  expect_values_near(x.grad(), {6});
}

TEST(Engine, HooksOnALeafRewriteTheGradientAndCanBeRemoved) {
  Tensor x = tensor({1.0, 2.0}, requires_grad());
  std::vector<double> observed;
  const size_t observe = x.register_hook([&](const Tensor& g) {
    observed = g.to_vector<double>();
    return Tensor();  // undefined: keep the gradient
  });
  const size_t doubler = x.register_hook([](const Tensor& g) { return g * 2; });
  (x * 3).sum().backward();
  EXPECT_EQ(observed, (std::vector<double>{3, 3}));
  expect_values_near(x.grad(), {6, 6});
  x.remove_hook(doubler);
  x.remove_hook(observe);
  observed.clear();
  x.set_grad(Tensor());
  (x * 3).sum().backward();
  expect_values_near(x.grad(), {3, 3});
  EXPECT_TRUE(observed.empty());
  EXPECT_THROW(x.remove_hook(doubler), Error);
}

TEST(Engine, HooksOnANonLeafChangeWhatFlowsFurther) {
  Tensor x = tensor({1.0, 2.0}, requires_grad());
  Tensor y = x * 3;
  const size_t handle = y.register_hook([](const Tensor& g) { return g * 10; });
  y.sum().backward(Tensor(), /*retain_graph=*/true);
  expect_values_near(x.grad(), {30, 30});
  EXPECT_FALSE(y.grad().defined()) << "a hook does not make a non-leaf keep its gradient";
  y.remove_hook(handle);
  x.set_grad(Tensor());
  y.sum().backward();
  expect_values_near(x.grad(), {3, 3});
}

TEST(Engine, RetainGradKeepsANonLeafsGradient) {
  Tensor x = tensor({1.0, 2.0}, requires_grad());
  Tensor y = x * 3;
  Tensor z = x * 4;
  y.retain_grad();
  EXPECT_TRUE(y.retains_grad());
  EXPECT_FALSE(z.retains_grad());
  (y * y + z).sum().backward();
  expect_values_near(y.grad(), {6, 12});  // 2y
  EXPECT_FALSE(z.grad().defined());
  expect_values_near(x.grad(), {18 + 4, 36 + 4});
}

TEST(Engine, NoGradGuardStopsRecording) {
  Tensor x = randn({2}, requires_grad());
  EXPECT_TRUE(GradMode::is_enabled());
  {
    NoGradGuard no_grad;
    EXPECT_FALSE(GradMode::is_enabled());
    Tensor y = x * 2;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    {
      AutoGradMode enable(true);
      EXPECT_TRUE((x * 2).requires_grad());
    }
    EXPECT_FALSE(GradMode::is_enabled());
  }
  EXPECT_TRUE(GradMode::is_enabled());
  EXPECT_TRUE((x * 2).requires_grad());
}

TEST(Engine, RequiresGradPropagates) {
  Tensor a = randn({2});
  Tensor b = randn({2}, requires_grad());
  EXPECT_FALSE((a * a).requires_grad());
  EXPECT_TRUE((a * b).requires_grad());
  EXPECT_FALSE((a * b).is_leaf());
  EXPECT_TRUE(b.is_leaf());
  EXPECT_TRUE(a.is_leaf());
}

TEST(Engine, DetachCutsTheGraph) {
  Tensor x = tensor({2.0, 3.0}, requires_grad());
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.impl()->storage, x.impl()->storage);
  (x * d).sum().backward();  // only the first factor is differentiated
  expect_values_near(x.grad(), {2, 3});
  Tensor y = x * 2;
  Tensor yd = y.detach();
  EXPECT_EQ(yd.grad_fn(), nullptr);
  y.detach_();
  EXPECT_EQ(y.grad_fn(), nullptr);
  EXPECT_FALSE(y.requires_grad());
}

TEST(Engine, GraphStructureNamesAndEdges) {
  Tensor x = randn({2, 3}, requires_grad());
  Tensor w = randn({2, 3}, requires_grad());
  EXPECT_EQ(x.grad_fn(), nullptr);
  Tensor prod = x * w;
  ASSERT_NE(prod.grad_fn(), nullptr);
  EXPECT_EQ(prod.grad_fn()->name(), "MulBackward");
  EXPECT_EQ((x + w).grad_fn()->name(), "AddBackward");
  EXPECT_EQ(prod.sum().grad_fn()->name(), "SumBackward");
  EXPECT_EQ(x.t().grad_fn()->name(), "TransposeBackward");
  EXPECT_EQ(x.view({6}).grad_fn()->name(), "ViewBackward");
  EXPECT_EQ(x.clone().grad_fn()->name(), "CloneBackward");

  const auto& edges = prod.grad_fn()->next_edges;
  ASSERT_EQ(edges.size(), 2u);
  for (const autograd::Edge& e : edges) {
    ASSERT_TRUE(e.valid());
    EXPECT_EQ(e.function->name(), "AccumulateGrad");
  }
  auto* acc_x = dynamic_cast<autograd::AccumulateGrad*>(edges[0].function.get());
  auto* acc_w = dynamic_cast<autograd::AccumulateGrad*>(edges[1].function.get());
  ASSERT_NE(acc_x, nullptr);
  ASSERT_NE(acc_w, nullptr);
  EXPECT_TRUE(acc_x->variable.is_same(x));
  EXPECT_TRUE(acc_w->variable.is_same(w));
  // The same leaf always feeds the same AccumulateGrad (while the graph holds it).
  Tensor again = x * 2;
  EXPECT_EQ(again.grad_fn()->next_edges[0].function, edges[0].function);

  Tensor chained = prod.sum();
  ASSERT_EQ(chained.grad_fn()->next_edges.size(), 1u);
  EXPECT_EQ(chained.grad_fn()->next_edges[0].function, prod.grad_fn());

  Tensor constant = randn({2, 3});
  Tensor half = x * constant;
  ASSERT_EQ(half.grad_fn()->next_edges.size(), 2u);
  EXPECT_TRUE(half.grad_fn()->next_edges[0].valid());
  EXPECT_FALSE(half.grad_fn()->next_edges[1].valid()) << "an input without grad gets an invalid edge";
  EXPECT_TRUE(half.grad_fn()->needs_input_grad(0));
  EXPECT_FALSE(half.grad_fn()->needs_input_grad(1));
}

TEST(Engine, SavedTensorsAreReleasedAfterBackward) {
  Tensor x = randn({4}, kF64Grad);
  Tensor a = x * 2;
  std::weak_ptr<TensorImpl> saved = a.impl();
  Tensor loss = (a * a).sum();  // MulBackward saves a
  a = Tensor();
  EXPECT_FALSE(saved.expired()) << "the graph holds the saved tensor until backward";
  loss.backward();
  EXPECT_TRUE(saved.expired()) << "backward without retain_graph frees saved tensors";
}

TEST(Engine, RetainGraphKeepsSavedTensors) {
  Tensor x = randn({4}, kF64Grad);
  Tensor a = x * 2;
  std::weak_ptr<TensorImpl> saved = a.impl();
  Tensor loss = (a * a).sum();
  a = Tensor();
  loss.backward(Tensor(), /*retain_graph=*/true);
  EXPECT_FALSE(saved.expired());
  loss.backward();
  EXPECT_TRUE(saved.expired());
}

TEST(Engine, TheGraphDiesWithItsOutputs) {
  Tensor x = randn({4}, kF64Grad);
  std::weak_ptr<autograd::Node> node;
  {
    Tensor loss = (x * x).sum();
    node = loss.grad_fn();
    EXPECT_FALSE(node.expired());
  }
  EXPECT_TRUE(node.expired()) << "nothing else should keep the graph alive";
}

TEST(Engine, GradientsAreCastToTheInputDtype) {
  Tensor x = randn({3}, requires_grad());  // float32
  (x.to(kFloat64) * 2).sum().backward();
  EXPECT_EQ(x.grad().dtype(), kFloat32);
  EXPECT_EQ(x.grad().to_vector<float>(), std::vector<float>(3, 2.f));
}

TEST(Engine, GradientOfAViewReachesItsBase) {
  Tensor x = tensor({1.0, 2.0, 3.0, 4.0}, requires_grad());
  Tensor rows = x.view({2, 2});
  (rows.select(0, 1) * 5).sum().backward();
  expect_values_near(x.grad(), {0, 0, 5, 5});
}

TEST(Engine, InPlaceOnANonLeafIsDifferentiated) {
  Tensor x = tensor({1.0, 2.0}, requires_grad());
  Tensor y = x * 2;
  const uint32_t before = y._version();
  y.add_(x * x);  // y = 2x + x^2 -> dy/dx = 2 + 2x
  y.mul_(3.0);    // y = 6x + 3x^2 -> dy/dx = 6 + 6x
  EXPECT_EQ(y._version(), before + 2);
  EXPECT_EQ(y.grad_fn()->name(), "MulBackward");
  y.sum().backward();
  expect_values_near(x.grad(), {12, 18});
}

}  // namespace
