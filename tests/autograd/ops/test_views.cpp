// Gradient checks of the view ops (autograd/ops/views.cpp) in float64: gradcheck and gradgradcheck of each
// view, on contiguous and on non-contiguous (transposed) inputs, plus the names of their backward nodes and
// hand-checked gradients where the rule is easy to state (expand sums, slice scatters into zeros).
#include <gtest/gtest.h>
#include <tandem.h>

namespace {

using namespace tandem;
using autograd::variable_list;

const TensorOptions kF64Grad = TensorOptions(kFloat64).requires_grad(true);

/// A float64 leaf that requires grad.
Tensor leaf(const Dims& shape) { return randn(shape, kF64Grad); }
/// A non-contiguous float64 leaf of the given shape: the transpose of a [cols, rows] tensor.
Tensor transposed_leaf(int64_t rows, int64_t cols) {
  return randn({cols, rows}, kFloat64).t().requires_grad_(true);
}

/// gradcheck and gradgradcheck of `fn` on `inputs`.
template <typename F>
void check(F fn, const variable_list& inputs) {
  EXPECT_TRUE(autograd::gradcheck(fn, inputs));
  EXPECT_TRUE(autograd::gradgradcheck(fn, inputs));
}

TEST(ViewGrad, View) {
  auto fn = [](const variable_list& in) { return in[0].view({3, 2, 2}); };
  check(fn, {leaf({4, 3})});
  check([](const variable_list& in) { return in[0].view({-1}); }, {leaf({2, 3})});
  check([](const variable_list& in) { return in[0].view_as(zeros({6})); }, {leaf({3, 2})});
  EXPECT_EQ(leaf({2, 3}).view({6}).grad_fn()->name(), "ViewBackward");
}

TEST(ViewGrad, Reshape) {
  auto fn = [](const variable_list& in) { return in[0].reshape({2, 6}); };
  check(fn, {leaf({4, 3})});
  check(fn, {transposed_leaf(4, 3)});  // needs a copy
  check([](const variable_list& in) { return in[0].reshape_as(zeros({12})); }, {transposed_leaf(3, 4)});
}

TEST(ViewGrad, Transpose) {
  check([](const variable_list& in) { return in[0].transpose(0, 2); }, {leaf({2, 3, 2})});
  check([](const variable_list& in) { return in[0].t(); }, {leaf({3, 2})});
  check([](const variable_list& in) { return in[0].mT(); }, {transposed_leaf(2, 3)});
  EXPECT_EQ(leaf({2, 3}).t().grad_fn()->name(), "TransposeBackward");
}

TEST(ViewGrad, Permute) {
  check([](const variable_list& in) { return in[0].permute({2, 0, 1}); }, {leaf({2, 3, 2})});
  check([](const variable_list& in) { return in[0].permute({1, 0}); }, {transposed_leaf(3, 2)});
  EXPECT_EQ(leaf({2, 3}).permute({1, 0}).grad_fn()->name(), "PermuteBackward");
}

TEST(ViewGrad, Expand) {
  check([](const variable_list& in) { return in[0].expand({2, 3, 4}); }, {leaf({3, 1})});
  check([](const variable_list& in) { return in[0].expand({3, -1}); }, {leaf({1, 2})});
  check([](const variable_list& in) { return in[0].expand_as(zeros({2, 3})); }, {transposed_leaf(1, 3)});
  Tensor x = leaf({3, 1});
  Tensor y = x.expand({2, 3, 4});
  EXPECT_EQ(y.grad_fn()->name(), "ExpandBackward");
  y.sum().backward();
  EXPECT_EQ(x.grad().sizes(), Dims({3, 1}));
  EXPECT_EQ(x.grad().to_vector<double>(), std::vector<double>(3, 8.0)) << "each element is used 2 * 4 times";
}

TEST(ViewGrad, SqueezeAndUnsqueeze) {
  check([](const variable_list& in) { return in[0].squeeze(); }, {leaf({2, 1, 3, 1})});
  check([](const variable_list& in) { return in[0].squeeze(1); }, {leaf({2, 1, 3})});
  check([](const variable_list& in) { return in[0].squeeze(0); }, {leaf({2, 3})});
  check([](const variable_list& in) { return in[0].unsqueeze(1); }, {leaf({2, 3})});
  check([](const variable_list& in) { return in[0].unsqueeze(-1); }, {transposed_leaf(2, 3)});
}

TEST(ViewGrad, SliceWithStep) {
  check([](const variable_list& in) { return in[0].slice(1, 1, 5, 2); }, {leaf({3, 6})});
  check([](const variable_list& in) { return in[0].slice(0, -2, 100); }, {transposed_leaf(4, 3)});
  check([](const variable_list& in) { return in[0].slice(0, 0, 4, 3); }, {leaf({5})});
  Tensor x = leaf({6});
  Tensor y = x.slice(0, 1, 6, 2);
  EXPECT_EQ(y.grad_fn()->name(), "SliceBackward");
  (y * tensor({1.0, 2.0, 3.0})).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 1, 0, 2, 0, 3}));
}

TEST(ViewGrad, Narrow) {
  check([](const variable_list& in) { return in[0].narrow(1, 1, 2); }, {leaf({2, 4})});
  check([](const variable_list& in) { return in[0].narrow(0, 0, 2); }, {transposed_leaf(3, 2)});
}

TEST(ViewGrad, Select) {
  check([](const variable_list& in) { return in[0].select(1, 2); }, {leaf({2, 3, 2})});
  check([](const variable_list& in) { return in[0].select(0, -1); }, {transposed_leaf(3, 2)});
  check([](const variable_list& in) { return in[0][1]; }, {leaf({2, 3})});
  Tensor x = leaf({2, 2});
  (x[1][0] * 5).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0, 5, 0}));
}

TEST(ViewGrad, FlattenAndUnflatten) {
  check([](const variable_list& in) { return in[0].flatten(); }, {leaf({2, 3, 2})});
  check([](const variable_list& in) { return in[0].flatten(1); }, {leaf({2, 3, 2})});
  check([](const variable_list& in) { return in[0].flatten(); }, {transposed_leaf(2, 3)});
  check([](const variable_list& in) { return in[0].unflatten(1, {2, 3}); }, {leaf({2, 6})});
  check([](const variable_list& in) { return in[0].unflatten(0, {-1, 2}); }, {leaf({4})});
}

TEST(ViewGrad, AsStrided) {
  // Overlapping windows: each input element collects the gradient of every window it appears in.
  check([](const variable_list& in) { return in[0].as_strided({3, 3}, {1, 1}, 0); }, {leaf({5})});
  check([](const variable_list& in) { return in[0].as_strided({2, 2}, {1, 2}, 1); }, {leaf({2, 3})});
  Tensor x = leaf({5});
  Tensor windows = x.as_strided({3, 3}, {1, 1}, 0);
  EXPECT_EQ(windows.grad_fn()->name(), "AsStridedBackward");
  windows.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 2, 3, 2, 1}));
}

TEST(ViewGrad, AsStridedOfAViewWithAnOffset) {
  // as_strided's offset is in storage elements; the input here covers storage elements 2..5 and the
  // windows read elements 3..5.
  Tensor base = randn({8}, kFloat64);
  check([](const variable_list& in) { return in[0].as_strided({2, 2}, {1, 1}, 3); },
        {base.narrow(0, 2, 4).detach().requires_grad_(true)});
}

TEST(ViewGrad, ChainsOfViews) {
  auto fn = [](const variable_list& in) {
    return in[0].t().unsqueeze(0).expand({2, 3, 4}).slice(2, 1, 4, 2).permute({2, 0, 1}).reshape({-1});
  };
  check(fn, {leaf({4, 3})});
  check(fn, {transposed_leaf(4, 3)});
}

TEST(ViewGrad, ViewsOfIntermediateResults) {
  auto fn = [](const variable_list& in) { return (in[0] * in[1]).t().select(0, 1) * in[1].select(1, 1); };
  check(fn, {leaf({3, 2}), leaf({3, 2})});
}

}  // namespace
