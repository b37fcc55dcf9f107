// Gradient checks of copies and conversions (autograd/ops/copy.cpp): to(dtype), clone, contiguous and copy_,
// in float64 with gradcheck/gradgradcheck, plus their values, storage (a copy never aliases its source) and the
// rules at the graph's edge: conversion to an integer dtype ends the graph, copy_ into a tensor that would
// need a gradient through a view or into a leaf is refused.
#include <gtest/gtest.h>
#include <tandem.h>

#include <string>

namespace {

using namespace tandem;
using autograd::GradcheckOptions;
using autograd::variable_list;

const TensorOptions kF64Grad = TensorOptions(kFloat64).requires_grad(true);

Tensor leaf(const Dims& shape) { return randn(shape, kF64Grad); }
Tensor transposed_leaf(int64_t rows, int64_t cols) {
  return randn({cols, rows}, kFloat64).t().requires_grad_(true);
}

template <typename F>
void check(F fn, const variable_list& inputs, const GradcheckOptions& options = {}) {
  EXPECT_TRUE(autograd::gradcheck(fn, inputs, options));
  EXPECT_TRUE(autograd::gradgradcheck(fn, inputs, options));
}

/// Tolerances for a round trip through float32, whose rounding (about 6e-8 relative) swamps a 1e-6 nudge.
GradcheckOptions through_float32() {
  GradcheckOptions o;
  o.eps = 1e-3;
  o.atol = 1e-3;
  o.rtol = 1e-2;
  return o;
}

TEST(CopyGrad, ToDtype) {
  auto round_trip = [](const variable_list& in) { return in[0].to(kFloat32).to(kFloat64); };
  check(round_trip, {leaf({3, 2})}, through_float32());
  check(round_trip, {transposed_leaf(2, 3)}, through_float32());
  Tensor x = leaf({2});
  EXPECT_TRUE(x.to(kFloat64).is_same(x)) << "converting to the same dtype is a no-op";
  Tensor y = x.to(kFloat32);
  EXPECT_EQ(y.dtype(), kFloat32);
  EXPECT_EQ(y.grad_fn()->name(), "ToCopyBackward");
  (y * 2).sum().backward();
  EXPECT_EQ(x.grad().dtype(), kFloat64);
  EXPECT_EQ(x.grad().to_vector<double>(), std::vector<double>(2, 2.0));
}

TEST(CopyGrad, ToAnIntegerDtypeEndsTheGraph) {
  Tensor x = tensor({1.7, -2.2}, requires_grad());
  Tensor i = x.to(kInt64);
  EXPECT_FALSE(i.requires_grad());
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{1, -2}));
  EXPECT_FALSE(x.to(kBool).requires_grad());
}

TEST(CopyGrad, ToConvertsValues) {
  Tensor b = tensor({0.0, 0.5, -3.0}).to(kBool);
  EXPECT_EQ(b.to_vector<bool>(), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(tensor({true, false}).to(kFloat32).to_vector<float>(), (std::vector<float>{1.f, 0.f}));
  Tensor t = arange(6).reshape({2, 3}).t().to(kFloat64);  // from a non-contiguous source
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(CopyGrad, Clone) {
  check([](const variable_list& in) { return in[0].clone(); }, {leaf({2, 3})});
  check([](const variable_list& in) { return in[0].clone(); }, {transposed_leaf(3, 2)});
  Tensor x = leaf({2, 3});
  Tensor c = x.clone();
  EXPECT_EQ(c.grad_fn()->name(), "CloneBackward");
  EXPECT_NE(c.impl()->storage, x.impl()->storage);
  EXPECT_EQ(c.to_vector<double>(), x.to_vector<double>());
  Tensor t = transposed_leaf(3, 2).clone();
  EXPECT_EQ(t.sizes(), Dims({3, 2}));
}

TEST(CopyGrad, CloneIsIndependentOfItsSource) {
  Tensor x = zeros({3});
  Tensor c = x.clone();
  c.fill_(4);
  EXPECT_EQ(x.to_vector<float>(), std::vector<float>(3, 0.f));
}

TEST(CopyGrad, Contiguous) {
  check([](const variable_list& in) { return in[0].contiguous(); }, {transposed_leaf(3, 2)});
  Tensor x = transposed_leaf(3, 2);
  Tensor c = x.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.impl()->storage, x.impl()->storage);
  Tensor y = leaf({3, 2});
  EXPECT_TRUE(y.contiguous().is_same(y));
}

TEST(CopyGrad, CopyIntoAFreshTensor) {
  auto fn = [](const variable_list& in) {
    Tensor dst = zeros({2, 3}, kFloat64);
    dst.copy_(in[0]);
    return dst;
  };
  check(fn, {leaf({2, 3})});
  check(fn, {transposed_leaf(2, 3)});
  check(fn, {leaf({3})});     // broadcast over rows
  check(fn, {leaf({2, 1})});  // broadcast over columns
  Tensor src = leaf({3});
  Tensor dst = zeros({2, 3}, kFloat64);
  dst.copy_(src);
  ASSERT_TRUE(dst.requires_grad());
  dst.sum().backward();
  EXPECT_EQ(src.grad().to_vector<double>(), std::vector<double>(3, 2.0));
}

TEST(CopyGrad, CopyAcrossDtypes) {
  auto fn = [](const variable_list& in) {
    Tensor dst = zeros({3}, kFloat32);
    dst.copy_(in[0]);
    return dst.to(kFloat64);
  };
  check(fn, {leaf({3})}, through_float32());
  Tensor src = leaf({2});
  Tensor dst = zeros({2}, kFloat32);
  dst.copy_(src);
  (dst * 3).sum().backward();
  EXPECT_EQ(src.grad().dtype(), kFloat64);
  EXPECT_EQ(src.grad().to_vector<double>(), std::vector<double>(2, 3.0));
}

TEST(CopyGrad, CopyOverwritesValuesAndHistory) {
  Tensor x = leaf({3});
  Tensor y = x * 2;
  const uint32_t before = y._version();
  y.copy_(tensor({1.0, 2.0, 3.0}));
  EXPECT_EQ(y._version(), before + 1);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{1, 2, 3}));
  EXPECT_FALSE(y.requires_grad()) << "the old values, and their history, are gone";
}

TEST(CopyGrad, CopyIsRefusedWhereTheGradientCouldNotFlow) {
  Tensor src = leaf({2});
  Tensor x = leaf({2});
  try {
    x.copy_(src);
    FAIL() << "copy_ into a leaf that requires grad did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("copy_"), std::string::npos) << e.what();
  }
  Tensor base = zeros({2, 2}, kFloat64);
  Tensor row = base.select(0, 0);
  try {
    row.copy_(src);
    FAIL() << "copy_ of a tensor that requires grad into a view did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("copy_"), std::string::npos) << e.what();
  }
  {
    NoGradGuard no_grad;
    EXPECT_NO_THROW(x.copy_(src));
    EXPECT_NO_THROW(row.copy_(src));
  }
  EXPECT_EQ(base.select(0, 0).to_vector<double>(), src.to_vector<double>());
}

TEST(CopyGrad, CopyIntoAViewOfALeafThatRequiresGradIsRefused) {
  // Writing through a view would change the leaf's values behind autograd's back, exactly like writing into
  // the leaf itself (which is refused); tensor/dispatch.h documents check_inplace as rejecting both.
  Tensor x = leaf({2, 2});
  const std::vector<double> before = x.to_vector<double>();
  try {
    x.select(0, 0).copy_(zeros({2}, kFloat64));
    ADD_FAILURE() << "copy_ into a view of a leaf that requires grad did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("copy_"), std::string::npos) << e.what();
  }
  EXPECT_EQ(x.to_vector<double>(), before) << "the leaf's values changed";
}

TEST(CopyGrad, CopyWithoutGradIntoAView) {
  Tensor base = zeros({2, 3});
  base.select(1, 1).copy_(tensor({5.f, 6.f}));
  EXPECT_EQ(base.to_vector<float>(), (std::vector<float>{0, 5, 0, 0, 6, 0}));
  base.t().copy_(arange(6, kFloat32).reshape({3, 2}));
  EXPECT_EQ(base.to_vector<float>(), (std::vector<float>{0, 2, 4, 1, 3, 5}));
}

}  // namespace
