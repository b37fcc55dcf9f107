// Element-wise ops (autograd/ops/elementwise.cpp): gradcheck and gradgradcheck in float64 for every
// differentiable op — contiguous, transposed (non-contiguous) and 0-dim inputs, broadcasting ([3,1] with [1,4],
// [4] with [2,3,4], {} with [2,3]) — with inputs kept away from kinks and ties, whose gradients are checked by
// hand instead; forward values against std:: functions; dtype promotion; comparisons and logical ops;
// allclose; in-place ops (values, version counter, leaf and saved-tensor errors, gradients through in-place
// ops on non-leaves, random fills); and the errors for misuse.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "tensor/functions.h"

namespace tandem {
namespace {

using autograd::gradcheck;
using autograd::gradgradcheck;
using autograd::variable_list;

// ---- inputs -----------------------------------------------------------------------------------------------

/// What values a gradcheck input takes: kinks (0 for abs/relu, the bounds of clamp) must be avoided.
enum class Domain { Any, Positive, AwayFromZero };

/// A float64 leaf of logical shape `sizes`; `transposed` lays its memory out with the last two dims swapped.
Tensor input(const Dims& sizes, Domain domain = Domain::Any, bool transposed = false, uint64_t seed = 1) {
  manual_seed(seed);
  Dims physical = sizes;
  if (transposed) std::swap(physical[physical.size() - 1], physical[physical.size() - 2]);
  Tensor t;
  {
    NoGradGuard no_grad;
    t = randn(physical, kFloat64);
    if (domain == Domain::Positive) t = t.abs() + 0.3;
    if (domain == Domain::AwayFromZero) t = t.sign() * (t.abs() + 0.3);
    if (transposed) t = t.transpose(-1, -2);
  }
  t = t.detach();
  t.requires_grad_(true);
  return t;
}

std::vector<double> values(const Tensor& t) { return t.detach().to_vector<double>(); }

template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Tensor ints(const std::vector<int64_t>& v) { return tensor(v); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

using UnaryFn = std::function<Tensor(const Tensor&)>;
using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;

/// Runs a check that throws tandem::Error describing a mismatch, and reports that description.
template <typename Check>
void expect_passes(const std::string& what, Check check) {
  try {
    EXPECT_TRUE(check()) << what;
  } catch (const Error& e) {
    ADD_FAILURE() << what << ": " << e.what();
  }
}

void expect_unary_grads(const std::string& name, const UnaryFn& fn, const Tensor& x, bool second_order = true) {
  const std::string what = name + " on shape " + x.sizes().str() + (x.is_contiguous() ? "" : " (non-contiguous)");
  expect_passes("gradcheck of " + what, [&] { return gradcheck([&](const variable_list& in) { return fn(in[0]); }, {x}); });
  if (second_order)
    expect_passes("gradgradcheck of " + what,
                  [&] { return gradgradcheck([&](const variable_list& in) { return fn(in[0]); }, {x}); });
}

void expect_binary_grads(const std::string& name, const BinaryFn& fn, const Tensor& a, const Tensor& b) {
  const std::string what = name + " on shapes " + a.sizes().str() + " and " + b.sizes().str();
  expect_passes("gradcheck of " + what,
                [&] { return gradcheck([&](const variable_list& in) { return fn(in[0], in[1]); }, {a, b}); });
  expect_passes("gradgradcheck of " + what,
                [&] { return gradgradcheck([&](const variable_list& in) { return fn(in[0], in[1]); }, {a, b}); });
}

// ---- unary gradients --------------------------------------------------------------------------------------

struct UnaryCase {
  std::string name;
  UnaryFn fn;
  Domain domain;
};

std::vector<UnaryCase> unary_cases() {
  return {
      {"neg", [](const Tensor& x) { return -x; }, Domain::Any},
      {"exp", [](const Tensor& x) { return x.exp(); }, Domain::Any},
      {"log", [](const Tensor& x) { return x.log(); }, Domain::Positive},
      {"sqrt", [](const Tensor& x) { return x.sqrt(); }, Domain::Positive},
      {"rsqrt", [](const Tensor& x) { return x.rsqrt(); }, Domain::Positive},
      {"abs", [](const Tensor& x) { return x.abs(); }, Domain::AwayFromZero},
      {"tanh", [](const Tensor& x) { return x.tanh(); }, Domain::Any},
      {"sigmoid", [](const Tensor& x) { return x.sigmoid(); }, Domain::Any},
      {"relu", [](const Tensor& x) { return x.relu(); }, Domain::AwayFromZero},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }, Domain::AwayFromZero},
      {"gelu", [](const Tensor& x) { return gelu(x); }, Domain::Any},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, "tanh"); }, Domain::Any},
      {"silu", [](const Tensor& x) { return silu(x); }, Domain::Any},
      {"softplus", [](const Tensor& x) { return softplus(x); }, Domain::Any},
      {"softplus_beta_threshold", [](const Tensor& x) { return softplus(x * 3.0, 2.0, 1.0); }, Domain::Any},
      {"square", [](const Tensor& x) { return x.square(); }, Domain::Any},
      {"reciprocal", [](const Tensor& x) { return x.reciprocal(); }, Domain::AwayFromZero},
      {"sin", [](const Tensor& x) { return x.sin(); }, Domain::Any},
      {"cos", [](const Tensor& x) { return x.cos(); }, Domain::Any},
      {"erf", [](const Tensor& x) { return x.erf(); }, Domain::Any},
      {"log1p", [](const Tensor& x) { return x.log1p(); }, Domain::Positive},
      {"expm1", [](const Tensor& x) { return x.expm1(); }, Domain::Any},
      {"pow_2", [](const Tensor& x) { return x.pow(2.0); }, Domain::Any},
      {"pow_3", [](const Tensor& x) { return x.pow(3.0); }, Domain::Any},
      {"pow_half", [](const Tensor& x) { return x.pow(0.5); }, Domain::Positive},
      {"pow_-1.5", [](const Tensor& x) { return x.pow(-1.5); }, Domain::Positive},
      {"rpow_2", [](const Tensor& x) { return pow(2.0, x); }, Domain::Any},
      {"rpow_0.3", [](const Tensor& x) { return pow(0.3, x); }, Domain::Any},
      {"clamp", [](const Tensor& x) { return x.clamp(-0.45, 0.55); }, Domain::Any},
      {"clamp_min", [](const Tensor& x) { return x.clamp_min(0.15); }, Domain::Any},
      {"clamp_max", [](const Tensor& x) { return x.clamp_max(-0.15); }, Domain::Any},
      {"add_scalar", [](const Tensor& x) { return x + 2.0; }, Domain::Any},
      {"sub_scalar", [](const Tensor& x) { return x - 2.0; }, Domain::Any},
      {"rsub_scalar", [](const Tensor& x) { return 2.0 - x; }, Domain::Any},
      {"mul_scalar", [](const Tensor& x) { return x * -3.0; }, Domain::Any},
      {"div_scalar", [](const Tensor& x) { return x / 4.0; }, Domain::Any},
      {"rdiv_scalar", [](const Tensor& x) { return 3.0 / x; }, Domain::AwayFromZero},
      {"masked_fill", [](const Tensor& x) { return x.masked_fill(tensor({true, false, false, true}), 2.0); },
       Domain::Any},
  };
}

TEST(ElementwiseGrad, UnaryOpsContiguous) {
  for (const UnaryCase& c : unary_cases()) expect_unary_grads(c.name, c.fn, input({3, 4}, c.domain));
}

TEST(ElementwiseGrad, UnaryOpsNonContiguous) {
  for (const UnaryCase& c : unary_cases())
    expect_unary_grads(c.name, c.fn, input({3, 4}, c.domain, /*transposed=*/true, 2));
}

TEST(ElementwiseGrad, UnaryOpsOnZeroDimTensors) {
  for (const UnaryCase& c : unary_cases()) {
    if (c.name == "masked_fill") continue;  // its mask has shape [4]
    Tensor x = input({}, c.domain, false, 3);
    Tensor y = c.fn(x);
    EXPECT_EQ(y.dim(), 0) << c.name;
    expect_unary_grads(c.name, c.fn, x);
  }
}

TEST(ElementwiseGrad, PiecewiseConstantOpsHaveZeroGradient) {
  for (auto fn : std::vector<UnaryFn>{[](const Tensor& x) { return x.floor(); },
                                      [](const Tensor& x) { return x.ceil(); },
                                      [](const Tensor& x) { return x.round(); },
                                      [](const Tensor& x) { return x.sign(); },
                                      [](const Tensor& x) { return x.pow(0.0); }}) {
    Tensor x = input({2, 3}, Domain::Any);
    Tensor y = fn(x);
    EXPECT_TRUE(y.requires_grad());
    (y * x).sum().backward();  // d/dx (f(x) x) = f(x) when f' = 0
    EXPECT_EQ(values(x.grad()), values(y));
  }
}

// ---- binary gradients -------------------------------------------------------------------------------------

struct BinaryCase {
  std::string name;
  BinaryFn fn;
  Domain a_domain, b_domain;
};

std::vector<BinaryCase> binary_cases() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; }, Domain::Any, Domain::Any},
      {"add_alpha", [](const Tensor& a, const Tensor& b) { return add(a, b, 2.5); }, Domain::Any, Domain::Any},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }, Domain::Any, Domain::Any},
      {"sub_alpha", [](const Tensor& a, const Tensor& b) { return sub(a, b, -0.5); }, Domain::Any, Domain::Any},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }, Domain::Any, Domain::Any},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; }, Domain::Any, Domain::AwayFromZero},
      {"pow", [](const Tensor& a, const Tensor& b) { return a.pow(b); }, Domain::Positive, Domain::Any},
      {"maximum", [](const Tensor& a, const Tensor& b) { return a.maximum(b); }, Domain::Any, Domain::Any},
      {"minimum", [](const Tensor& a, const Tensor& b) { return a.minimum(b); }, Domain::Any, Domain::Any},
      {"where", [](const Tensor& a, const Tensor& b) { return where(a.gt(0.1), a, b); }, Domain::AwayFromZero,
       Domain::Any},
  };
}

TEST(ElementwiseGrad, BinaryOpsWithBroadcasting) {
  const std::vector<std::pair<Dims, Dims>> shapes = {
      {{3, 1}, {1, 4}}, {{4}, {2, 3, 4}}, {{2, 3, 4}, {4}}, {{}, {2, 3}}, {{2, 3}, {}}, {{3, 4}, {3, 4}}};
  for (const BinaryCase& c : binary_cases())
    for (const auto& [sa, sb] : shapes) expect_binary_grads(c.name, c.fn, input(sa, c.a_domain, false, 4), input(sb, c.b_domain, false, 5));
}

TEST(ElementwiseGrad, BinaryOpsWithNonContiguousOperands) {
  for (const BinaryCase& c : binary_cases()) {
    expect_binary_grads(c.name, c.fn, input({3, 4}, c.a_domain, true, 6), input({3, 4}, c.b_domain, false, 7));
    expect_binary_grads(c.name, c.fn, input({3, 4}, c.a_domain, false, 8), input({1, 4}, c.b_domain, false, 9));
  }
}

TEST(ElementwiseGrad, WhereWithScalarsAndBroadcastCondition) {
  manual_seed(10);
  Tensor cond = rand({3, 1}).gt(0.5).logical_or(tensor({true, false, false}).reshape({3, 1}));
  Tensor a = input({1, 4}, Domain::Any, false, 11), b = input({3, 4}, Domain::Any, false, 12);
  expect_binary_grads("where(cond, a, b)", [&](const Tensor& x, const Tensor& y) { return where(cond, x, y); }, a, b);
  expect_unary_grads("where(cond, a, 2)", [&](const Tensor& x) { return where(cond, x, 2.0); }, a);
  expect_unary_grads("where(cond, 1.5, b)", [&](const Tensor& x) { return where(cond, 1.5, x); }, b);
  expect_unary_grads("masked_fill with a broadcast mask",
                     [&](const Tensor& x) { return x.masked_fill(cond, -1.0); }, b);
}

// ---- gradients at kinks and ties, by hand -----------------------------------------------------------------

std::vector<double> grad_of(const UnaryFn& fn, const std::vector<double>& at) {
  Tensor x = tensor(at, TensorOptions(kFloat64).requires_grad(true));
  fn(x).sum().backward();
  return values(x.grad());
}

TEST(ElementwiseGrad, KinkGradientsFollowLibtorch) {
  EXPECT_EQ(grad_of([](const Tensor& x) { return x.relu(); }, {-1, 0, 2}), (std::vector<double>{0, 0, 1}));
  EXPECT_EQ(grad_of([](const Tensor& x) { return x.abs(); }, {-1, 0, 2}), (std::vector<double>{-1, 0, 1}));
  EXPECT_EQ(grad_of([](const Tensor& x) { return leaky_relu(x, 0.25); }, {-1, 0, 2}),
            (std::vector<double>{0.25, 0.25, 1}));
  // clamp passes the gradient where min <= x <= max, bounds included
  EXPECT_EQ(grad_of([](const Tensor& x) { return x.clamp(-1.0, 1.0); }, {-2, -1, 0, 1, 2}),
            (std::vector<double>{0, 1, 1, 1, 0}));
  EXPECT_EQ(grad_of([](const Tensor& x) { return x.clamp_min(0.0); }, {-1, 0, 1}), (std::vector<double>{0, 1, 1}));
  EXPECT_EQ(grad_of([](const Tensor& x) { return x.clamp_max(0.0); }, {-1, 0, 1}), (std::vector<double>{1, 1, 0}));
  // softplus: sigmoid(beta x) below the threshold, 1 above
  const std::vector<double> g = grad_of([](const Tensor& x) { return softplus(x, 2.0, 4.0); }, {0.0, 1.0, 3.0});
  EXPECT_DOUBLE_EQ(g[0], 0.5);
  EXPECT_DOUBLE_EQ(g[1], 1 / (1 + std::exp(-2.0)));
  EXPECT_EQ(g[2], 1.0);
}

TEST(ElementwiseGrad, MaximumAndMinimumSplitTiesHalfAndHalf) {
  for (bool is_max : {true, false}) {
    Tensor a = tensor({1.0, 2.0, 3.0}, TensorOptions(kFloat64).requires_grad(true));
    Tensor b = tensor({1.0, 5.0, 0.0}, TensorOptions(kFloat64).requires_grad(true));
    (is_max ? a.maximum(b) : a.minimum(b)).sum().backward();
    EXPECT_EQ(values(a.grad()), (is_max ? std::vector<double>{0.5, 0, 1} : std::vector<double>{0.5, 1, 0}));
    EXPECT_EQ(values(b.grad()), (is_max ? std::vector<double>{0.5, 1, 0} : std::vector<double>{0.5, 0, 1}));
  }
}

TEST(ElementwiseGrad, PowAtZeroBaseIsNotNan) {
  for (double p : {1.0, 2.0, 3.0, 0.0}) {
    const std::vector<double> g = grad_of([p](const Tensor& x) { return x.pow(p); }, {0.0, 2.0});
    EXPECT_EQ(g[0], p == 1 ? 1.0 : 0.0) << "p = " << p;
    EXPECT_DOUBLE_EQ(g[1], p * std::pow(2.0, p - 1)) << "p = " << p;
  }
  // tensor exponent: base 0 with exponents >= 1 gives finite gradients; the exponent's gradient is masked to 0
  Tensor a = tensor({0.0, 0.0, 0.0, 2.0}, TensorOptions(kFloat64).requires_grad(true));
  Tensor b = tensor({1.0, 2.0, 0.0, 3.0}, TensorOptions(kFloat64).requires_grad(true));
  a.pow(b).sum().backward();
  EXPECT_EQ(values(a.grad()), (std::vector<double>{1, 0, 0, 12}));
  const std::vector<double> gb = values(b.grad());
  EXPECT_EQ(gb[0], 0.0);
  EXPECT_EQ(gb[1], 0.0);
  EXPECT_EQ(gb[2], 0.0);
  EXPECT_DOUBLE_EQ(gb[3], 8 * std::log(2.0));
  // the exponent's gradient is only defined for a positive base: NaN for a negative one, as libtorch
  Tensor c = tensor({-2.0}, TensorOptions(kFloat64).requires_grad(true));
  Tensor e = tensor({2.0}, TensorOptions(kFloat64).requires_grad(true));
  c.pow(e).sum().backward();
  EXPECT_DOUBLE_EQ(values(c.grad())[0], -4.0);
  EXPECT_TRUE(std::isnan(values(e.grad())[0]));
  // scalar base 0: the gradient is 0 where the exponent is >= 0
  const std::vector<double> g0 = grad_of([](const Tensor& x) { return pow(0.0, x); }, {0.0, 1.5});
  EXPECT_EQ(g0, (std::vector<double>{0, 0}));
}

TEST(ElementwiseGrad, GradientsOfIntegerOperandsAreNotTracked) {
  Tensor x = input({2, 3});
  Tensor k = ints({1, 2, 3});
  Tensor y = x.pow(k) * k + where(k.gt(1.0), x, k);
  y.sum().backward();
  ASSERT_TRUE(x.grad().defined());
  const std::vector<double> xv = values(x), gv = values(x.grad());
  for (size_t i = 0; i < xv.size(); ++i) {
    const double kk = static_cast<double>(i % 3 + 1);
    EXPECT_NEAR(gv[i], kk * kk * std::pow(xv[i], kk - 1) + (kk > 1 ? 1 : 0), 1e-12);
  }
}

// ---- forward values ---------------------------------------------------------------------------------------

TEST(ElementwiseForward, UnaryValuesMatchStd) {
  const std::vector<double> xs = {-3.5, -1.25, -0.5, -0.1, 0.0, 0.2, 0.5, 1.5, 2.5, 4.0};
  const std::vector<double> pos = {0.01, 0.2, 0.5, 1.0, 2.5, 7.0};
  struct Case {
    std::string name;
    UnaryFn fn;
    std::function<double(double)> ref;
    bool positive;
  };
  const double k = std::sqrt(2 / M_PI);
  const std::vector<Case> cases = {
      {"neg", [](const Tensor& x) { return x.neg(); }, [](double x) { return -x; }, false},
      {"exp", [](const Tensor& x) { return x.exp(); }, [](double x) { return std::exp(x); }, false},
      {"log", [](const Tensor& x) { return x.log(); }, [](double x) { return std::log(x); }, true},
      {"sqrt", [](const Tensor& x) { return x.sqrt(); }, [](double x) { return std::sqrt(x); }, true},
      {"rsqrt", [](const Tensor& x) { return x.rsqrt(); }, [](double x) { return 1 / std::sqrt(x); }, true},
      {"abs", [](const Tensor& x) { return x.abs(); }, [](double x) { return std::abs(x); }, false},
      {"sign", [](const Tensor& x) { return x.sign(); }, [](double x) { return double((x > 0) - (x < 0)); }, false},
      {"tanh", [](const Tensor& x) { return x.tanh(); }, [](double x) { return std::tanh(x); }, false},
      {"sigmoid", [](const Tensor& x) { return x.sigmoid(); }, [](double x) { return 1 / (1 + std::exp(-x)); },
       false},
      {"relu", [](const Tensor& x) { return x.relu(); }, [](double x) { return std::max(x, 0.0); }, false},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x); }, [](double x) { return x > 0 ? x : 0.01 * x; },
       false},
      {"gelu", [](const Tensor& x) { return gelu(x); },
       [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, false},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, "tanh"); },
       [k](double x) { return 0.5 * x * (1 + std::tanh(k * (x + 0.044715 * x * x * x))); }, false},
      {"silu", [](const Tensor& x) { return silu(x); }, [](double x) { return x / (1 + std::exp(-x)); }, false},
      {"softplus", [](const Tensor& x) { return softplus(x); }, [](double x) { return std::log1p(std::exp(x)); },
       false},
      {"softplus_2_1", [](const Tensor& x) { return softplus(x, 2, 1); },
       [](double x) { return 2 * x > 1 ? x : std::log1p(std::exp(2 * x)) / 2; }, false},
      {"square", [](const Tensor& x) { return x.square(); }, [](double x) { return x * x; }, false},
      {"reciprocal", [](const Tensor& x) { return x.reciprocal(); }, [](double x) { return 1 / x; }, true},
      {"sin", [](const Tensor& x) { return x.sin(); }, [](double x) { return std::sin(x); }, false},
      {"cos", [](const Tensor& x) { return x.cos(); }, [](double x) { return std::cos(x); }, false},
      {"erf", [](const Tensor& x) { return x.erf(); }, [](double x) { return std::erf(x); }, false},
      {"log1p", [](const Tensor& x) { return x.log1p(); }, [](double x) { return std::log1p(x); }, true},
      {"expm1", [](const Tensor& x) { return x.expm1(); }, [](double x) { return std::expm1(x); }, false},
      {"floor", [](const Tensor& x) { return x.floor(); }, [](double x) { return std::floor(x); }, false},
      {"ceil", [](const Tensor& x) { return x.ceil(); }, [](double x) { return std::ceil(x); }, false},
      {"round", [](const Tensor& x) { return x.round(); }, [](double x) { return std::nearbyint(x); }, false},
      {"clamp", [](const Tensor& x) { return x.clamp(-1.0, 1.0); },
       [](double x) { return std::min(std::max(x, -1.0), 1.0); }, false},
      {"pow_2.5", [](const Tensor& x) { return x.pow(2.5); }, [](double x) { return std::pow(x, 2.5); }, true},
      {"rpow_3", [](const Tensor& x) { return pow(3.0, x); }, [](double x) { return std::pow(3.0, x); }, false},
  };
  for (const Case& c : cases) {
    const std::vector<double>& in = c.positive ? pos : xs;
    const std::vector<double> got64 = values(c.fn(tensor(in, kFloat64)));
    Tensor out32 = c.fn(tensor(in, kFloat32));
    EXPECT_EQ(out32.dtype(), kFloat32) << c.name;
    const std::vector<double> got32 = values(out32);
    for (size_t i = 0; i < in.size(); ++i) {
      const double want = c.ref(in[i]);
      EXPECT_NEAR(got64[i], want, 1e-14 * std::max(1.0, std::abs(want))) << c.name << "(" << in[i] << ") float64";
      EXPECT_NEAR(got32[i], want, 2e-6 * std::max(1.0, std::abs(want))) << c.name << "(" << in[i] << ") float32";
    }
  }
  // round halves to even, like libtorch
  EXPECT_EQ(values(tensor({0.5, 1.5, 2.5, -0.5, -1.5}).round()), (std::vector<double>{0, 2, 2, -0, -2}));
}

TEST(ElementwiseForward, BinaryValues) {
  Tensor a = tensor({1.0, -2.0, 3.0, 0.5});
  Tensor b = tensor({2.0, 2.0, -1.0, 0.5});
  EXPECT_EQ(values(a.pow(b)), (std::vector<double>{1, 4, 1.0 / 3, std::pow(0.5, 0.5)}));
  EXPECT_EQ(values(a.maximum(b)), (std::vector<double>{2, 2, 3, 0.5}));
  EXPECT_EQ(values(a.minimum(b)), (std::vector<double>{1, -2, -1, 0.5}));
  EXPECT_EQ(values(where(a.gt(b), a, b)), (std::vector<double>{2, 2, 3, 0.5}));
  EXPECT_EQ(values(where(a.gt(0.0), a, 0.0)), (std::vector<double>{1, 0, 3, 0.5}));
  EXPECT_EQ(values(where(a.gt(0.0), 9.0, b)), (std::vector<double>{9, 2, 9, 9}));
  EXPECT_EQ(values(a.masked_fill(a.lt(0.0), 7.0)), (std::vector<double>{1, 7, 3, 0.5}));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor with_nan = tensor({nan, 1.0});
  EXPECT_TRUE(std::isnan(values(with_nan.maximum(tensor({0.0, 0.0})))[0]));
  EXPECT_TRUE(std::isnan(values(with_nan.relu())[0]));
  // where broadcasts all three operands
  Tensor w = where(tensor({true, false}).reshape({2, 1}), tensor({1.0, 2.0, 3.0}), tensor({-1.0}));
  EXPECT_EQ(w.sizes(), (Dims{2, 3}));
  EXPECT_EQ(values(w), (std::vector<double>{1, 2, 3, -1, -1, -1}));
}

TEST(ElementwiseForward, DtypePromotion) {
  Tensor i = ints({1, 2, 3});
  Tensor f = tensor({0.5f, 1.5f, 2.5f});
  Tensor b = tensor({true, false, true});
  EXPECT_EQ((i + f).dtype(), kFloat32);
  EXPECT_EQ(values(i + f), (std::vector<double>{1.5, 3.5, 5.5}));
  EXPECT_EQ((b * f).dtype(), kFloat32);
  EXPECT_EQ(values(b * f), (std::vector<double>{0.5, 0, 2.5}));
  Tensor q = i / ints({2, 2, 2});
  EXPECT_EQ(q.dtype(), kFloat32);
  EXPECT_EQ(values(q), (std::vector<double>{0.5, 1, 1.5}));
  EXPECT_EQ((i / 2.0).dtype(), kFloat32);
  EXPECT_EQ(values(i / 2.0), (std::vector<double>{0.5, 1, 1.5}));
  EXPECT_EQ((i + 2.5).dtype(), kFloat32);
  EXPECT_EQ(values(i + 2.5), (std::vector<double>{3.5, 4.5, 5.5}));
  EXPECT_EQ((i + 2.0).dtype(), kInt64);
  EXPECT_EQ((i * 3.0).to_vector<int64_t>(), (std::vector<int64_t>{3, 6, 9}));
  EXPECT_EQ((b + 1.0).dtype(), kInt64);
  EXPECT_EQ((b + 1.0).to_vector<int64_t>(), (std::vector<int64_t>{2, 1, 2}));
  EXPECT_EQ((f.to(kFloat64) + f).dtype(), kFloat64);
  EXPECT_EQ((i + b).dtype(), kInt64);
  EXPECT_EQ((b + b).dtype(), kBool);
  // floating functions of integers promote to float32; sign-like ones keep int64
  for (auto fn : std::vector<UnaryFn>{[](const Tensor& x) { return x.exp(); }, [](const Tensor& x) { return x.log(); },
                                      [](const Tensor& x) { return x.sqrt(); }, [](const Tensor& x) { return x.tanh(); },
                                      [](const Tensor& x) { return x.sigmoid(); }, [](const Tensor& x) { return gelu(x); },
                                      [](const Tensor& x) { return x.reciprocal(); }})
    EXPECT_EQ(fn(i).dtype(), kFloat32);
  EXPECT_FLOAT_EQ(values(i.exp())[1], static_cast<float>(std::exp(2.0)));
  for (auto fn : std::vector<UnaryFn>{[](const Tensor& x) { return -x; }, [](const Tensor& x) { return x.abs(); },
                                      [](const Tensor& x) { return x.sign(); }, [](const Tensor& x) { return x.square(); },
                                      [](const Tensor& x) { return x.relu(); }, [](const Tensor& x) { return x.clamp(0.0, 2.0); },
                                      [](const Tensor& x) { return x.floor(); }, [](const Tensor& x) { return x.pow(2.0); }})
    EXPECT_EQ(fn(i).dtype(), kInt64);
  EXPECT_EQ((-i).to_vector<int64_t>(), (std::vector<int64_t>{-1, -2, -3}));
  EXPECT_EQ(i.pow(2.0).to_vector<int64_t>(), (std::vector<int64_t>{1, 4, 9}));
  EXPECT_EQ(pow(2.0, i).to_vector<int64_t>(), (std::vector<int64_t>{2, 4, 8}));
  EXPECT_EQ(i.pow(i).to_vector<int64_t>(), (std::vector<int64_t>{1, 4, 27}));
  EXPECT_EQ(i.clamp(1.5, std::nullopt).dtype(), kFloat32);  // a fractional bound promotes
  EXPECT_EQ(i.pow(0.5).dtype(), kFloat32);
  EXPECT_EQ(where(b, i, f).dtype(), kFloat32);
  EXPECT_EQ(where(b, i, 2.5).dtype(), kFloat32);
  EXPECT_EQ(where(b, i, 2.0).dtype(), kInt64);
  EXPECT_EQ(i.masked_fill(b, 7.0).to_vector<int64_t>(), (std::vector<int64_t>{7, 2, 7}));
}

// ---- comparisons, logical ops, allclose -------------------------------------------------------------------

TEST(ElementwiseCompare, TensorAndScalarComparisons) {
  Tensor a = tensor({1.0, 2.0, 3.0}, TensorOptions(kFloat64).requires_grad(true));
  Tensor b = tensor({3.0, 2.0, 1.0});
  auto bools = [](const Tensor& t) {
    EXPECT_EQ(t.dtype(), kBool);
    EXPECT_FALSE(t.requires_grad());
    return t.to_vector<bool>();
  };
  EXPECT_EQ(bools(a == b), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(bools(a != b), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(bools(a < b), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(bools(a <= b), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(bools(a > b), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(bools(a >= b), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(bools(a == 2.0), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(bools(a != 2.0), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(bools(a < 2.0), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(bools(a <= 2.0), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(bools(a > 2.0), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(bools(a >= 2.0), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(bools(eq(a, b)), bools(a.eq(b)));
  EXPECT_EQ(bools(ge(a, b)), bools(a.ge(b)));
  // mixed dtypes compare after promotion; broadcasting applies
  Tensor i = ints({1, 2, 3});
  EXPECT_EQ(bools(i == a), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(bools(i.lt(2.5)), (std::vector<bool>{true, true, false}));
  Tensor grid = a.reshape({3, 1}) < b;
  EXPECT_EQ(grid.sizes(), (Dims{3, 3}));
  EXPECT_EQ(bools(grid), (std::vector<bool>{true, true, false, true, false, false, false, false, false}));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(bools(tensor({nan}) == tensor({nan})), (std::vector<bool>{false}));
  EXPECT_EQ(bools(tensor({nan}) != nan), (std::vector<bool>{true}));
}

TEST(ElementwiseCompare, LogicalOps) {
  Tensor p = tensor({true, true, false, false});
  Tensor q = tensor({true, false, true, false});
  EXPECT_EQ(p.logical_and(q).to_vector<bool>(), (std::vector<bool>{true, false, false, false}));
  EXPECT_EQ(p.logical_or(q).to_vector<bool>(), (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ((!p).to_vector<bool>(), (std::vector<bool>{false, false, true, true}));
  EXPECT_EQ(logical_not(tensor({0.0, 2.0})).to_vector<bool>(), (std::vector<bool>{true, false}));
  Tensor r = logical_and(tensor({0.5, 0.0}), ints({3, 3}));
  EXPECT_EQ(r.dtype(), kBool);
  EXPECT_EQ(r.to_vector<bool>(), (std::vector<bool>{true, false}));
}

TEST(ElementwiseCompare, Allclose) {
  Tensor a = tensor({1.0, 2.0, 3.0});
  EXPECT_TRUE(allclose(a, a + 1e-9));
  EXPECT_FALSE(allclose(a, a + 1e-3));
  EXPECT_TRUE(allclose(a, a + 1e-3, /*rtol=*/1e-3));
  EXPECT_TRUE(allclose(a, a + 0.05, 0, /*atol=*/0.1));
  EXPECT_TRUE(allclose(a, tensor({1.0f, 2.0f, 3.0f})));
  EXPECT_TRUE(allclose(tensor({2.0, 2.0}).reshape({2, 1}), tensor({2.0, 2.0, 2.0})));  // broadcast
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(allclose(tensor({nan}), tensor({nan})));
  EXPECT_FALSE(allclose(tensor({1.0}), tensor({nan})));
  EXPECT_TRUE(allclose(tensor({inf, -inf}), tensor({inf, -inf})));
  EXPECT_FALSE(allclose(tensor({inf}), tensor({-inf})));
  EXPECT_THROW(allclose(tensor({1.0, 2.0}), tensor({1.0, 2.0, 3.0})), Error);
}

// ---- in-place ops -----------------------------------------------------------------------------------------

TEST(ElementwiseInPlace, ValuesMatchOutOfPlaceAndVersionBumps) {
  struct Case {
    std::string name;
    std::function<void(Tensor&)> in_place;
    UnaryFn out_of_place;
  };
  const std::vector<Case> cases = {
      {"pow_", [](Tensor& t) { t.pow_(3.0); }, [](const Tensor& t) { return t.pow(3.0); }},
      {"neg_", [](Tensor& t) { t.neg_(); }, [](const Tensor& t) { return -t; }},
      {"exp_", [](Tensor& t) { t.exp_(); }, [](const Tensor& t) { return t.exp(); }},
      {"log_", [](Tensor& t) { t.abs_().log_(); }, [](const Tensor& t) { return t.abs().log(); }},
      {"sqrt_", [](Tensor& t) { t.abs_().sqrt_(); }, [](const Tensor& t) { return t.abs().sqrt(); }},
      {"abs_", [](Tensor& t) { t.abs_(); }, [](const Tensor& t) { return t.abs(); }},
      {"tanh_", [](Tensor& t) { t.tanh_(); }, [](const Tensor& t) { return t.tanh(); }},
      {"sigmoid_", [](Tensor& t) { t.sigmoid_(); }, [](const Tensor& t) { return t.sigmoid(); }},
      {"relu_", [](Tensor& t) { t.relu_(); }, [](const Tensor& t) { return t.relu(); }},
      {"clamp_", [](Tensor& t) { t.clamp_(-0.5, 0.5); }, [](const Tensor& t) { return t.clamp(-0.5, 0.5); }},
      {"masked_fill_", [](Tensor& t) { t.masked_fill_(tensor({true, false, true}), 4.0); },
       [](const Tensor& t) { return t.masked_fill(tensor({true, false, true}), 4.0); }},
      {"fill_", [](Tensor& t) { t.fill_(2.5); }, [](const Tensor& t) { return full_like(t, 2.5); }},
      {"zero_", [](Tensor& t) { t.zero_(); }, [](const Tensor& t) { return zeros_like(t); }},
      {"add_", [](Tensor& t) { t.add_(tensor({1.0, 2.0, 3.0}), 2.0); },
       [](const Tensor& t) { return t + tensor({2.0, 4.0, 6.0}); }},
      {"mul_", [](Tensor& t) { t *= 3.0; }, [](const Tensor& t) { return t * 3.0; }},
      {"div_", [](Tensor& t) { t /= tensor({2.0}); }, [](const Tensor& t) { return t / 2.0; }},
  };
  for (bool transposed : {false, true}) {
    for (const Case& c : cases) {
      manual_seed(20);
      Tensor base = transposed ? randn({3, 2}, kFloat64).t() : randn({2, 3}, kFloat64);
      Tensor expected = c.out_of_place(base);
      const uint32_t version = base._version();
      Tensor alias = base;
      c.in_place(base);
      EXPECT_GT(base._version(), version) << c.name;
      EXPECT_TRUE(base.is_same(alias)) << c.name;
      const std::vector<double> got = values(base), want = values(expected);
      for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-14) << c.name << " element " << i;
    }
  }
  Tensor i = ints({-2, 3});
  i.neg_().abs_().clamp_(0.0, 2.0).pow_(2.0);
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{4, 4}));
}

TEST(ElementwiseInPlace, RejectedOnLeavesThatRequireGrad) {
  for (auto fn : std::vector<std::function<void(Tensor&)>>{
           [](Tensor& t) { t.exp_(); }, [](Tensor& t) { t.relu_(); }, [](Tensor& t) { t.clamp_(0.0, 1.0); },
           [](Tensor& t) { t.fill_(1.0); }, [](Tensor& t) { t.zero_(); }, [](Tensor& t) { t.uniform_(); },
           [](Tensor& t) { t.normal_(); }, [](Tensor& t) { t.pow_(2.0); }, [](Tensor& t) { t.add_(1.0); },
           [](Tensor& t) { t.mul_(t.detach()); }, [](Tensor& t) { t.masked_fill_(t.detach().gt(0.0), 0.0); }}) {
    Tensor x = input({2, 3});
    const std::vector<double> before = values(x);
    const std::string message = error_of([&] { fn(x); });
    EXPECT_TRUE(contains(message, "leaf")) << message;
    EXPECT_EQ(values(x), before);
    {
      NoGradGuard no_grad;  // allowed without a graph (how initialisers and optimizers write parameters)
      EXPECT_NO_THROW(fn(x));
    }
  }
}

TEST(ElementwiseInPlace, ModifyingASavedTensorFailsAtBackward) {
  Tensor x = input({2, 3});
  Tensor y = x.exp();  // ExpBackward saves its output y
  y.mul_(2.0);
  const std::string message = error_of([&] { y.sum().backward(); });
  EXPECT_TRUE(contains(message, "modified by an in-place operation")) << message;

  Tensor a = input({3});
  Tensor h = a * 1.0;
  Tensor z = h.tanh() * h;  // MulBackward saves h
  h.sigmoid_();
  EXPECT_THROW(z.sum().backward(), Error);
}

TEST(ElementwiseInPlace, GradientFlowsThroughInPlaceOpsOnNonLeaves) {
  Tensor x = input({2, 3});
  Tensor y = x * 2.0;
  y.exp_();
  EXPECT_EQ(y.grad_fn()->name(), "ExpBackward");
  y.sum().backward();
  const std::vector<double> xv = values(x), g = values(x.grad());
  for (size_t i = 0; i < xv.size(); ++i) EXPECT_NEAR(g[i], 2 * std::exp(2 * xv[i]), 1e-12);

  // every in-place function under gradcheck/gradgradcheck, on a fresh non-leaf each time
  const std::vector<std::pair<std::string, UnaryFn>> chains = {
      {"exp_", [](const Tensor& t) { Tensor u = t * 1.0; u.exp_(); return u; }},
      {"tanh_", [](const Tensor& t) { Tensor u = t * 1.0; u.tanh_(); return u; }},
      {"sigmoid_", [](const Tensor& t) { Tensor u = t * 1.0; u.sigmoid_(); return u; }},
      {"pow_", [](const Tensor& t) { Tensor u = t * 1.0; u.pow_(3.0); return u; }},
      {"neg_", [](const Tensor& t) { Tensor u = t * 1.0; u.neg_(); return u; }},
      {"abs_", [](const Tensor& t) { Tensor u = t * 1.0; u.abs_(); return u; }},
      {"relu_", [](const Tensor& t) { Tensor u = t * 1.0; u.relu_(); return u; }},
      {"clamp_", [](const Tensor& t) { Tensor u = t * 1.0; u.clamp_(-0.45, 0.55); return u; }},
      {"log_", [](const Tensor& t) { Tensor u = t.abs() + 0.5; u.log_(); return u; }},
      {"sqrt_", [](const Tensor& t) { Tensor u = t.abs() + 0.5; u.sqrt_(); return u; }},
      {"masked_fill_", [](const Tensor& t) { Tensor u = t * 1.0; u.masked_fill_(tensor({true, false, false}), 1.0); return u; }},
      {"add_", [](const Tensor& t) { Tensor u = t * 1.0; u.add_(t, 3.0); return u; }},
      {"mul_", [](const Tensor& t) { Tensor u = t * 1.0; u.mul_(t); return u; }},
  };
  for (const auto& [name, fn] : chains) expect_unary_grads(name, fn, input({2, 3}, Domain::AwayFromZero, false, 21));
}

TEST(ElementwiseInPlace, OverwritingANonLeafCutsItsGradient) {
  for (auto overwrite : std::vector<std::function<void(Tensor&)>>{
           [](Tensor& t) { t.fill_(3.0); }, [](Tensor& t) { t.zero_(); }, [](Tensor& t) { t.uniform_(); },
           [](Tensor& t) { t.normal_(); }}) {
    Tensor x = input({2, 3});
    Tensor y = x * 2.0;
    overwrite(y);
    EXPECT_TRUE(y.requires_grad());
    (y + x).sum().backward();
    EXPECT_EQ(values(x.grad()), std::vector<double>(6, 1.0));
  }
}

TEST(ElementwiseInPlace, RandomFillsDrawLikeRandAndRandn) {
  manual_seed(7);
  Tensor u_ref = rand({5, 7});
  Tensor n_ref = randn({5, 7}, kFloat64);
  manual_seed(7);
  Tensor u = empty({5, 7});
  u.uniform_();
  Tensor n = empty({5, 7}, kFloat64);
  n.normal_();
  EXPECT_EQ(values(u), values(u_ref));
  EXPECT_EQ(values(n), values(n_ref));
  // a non-contiguous destination gets the same values in its logical order
  manual_seed(8);
  Tensor ref = rand({4, 6}, kFloat64);
  manual_seed(8);
  Tensor t = empty({6, 4}, kFloat64).t();
  t.uniform_();
  EXPECT_EQ(values(t), values(ref));
  // ranges and moments
  Tensor big = empty({20000});
  big.uniform_(-2.0, 3.0);
  const std::vector<double> bv = values(big);
  double mean = 0;
  for (double v : bv) {
    EXPECT_GE(v, -2.0);
    EXPECT_LT(v, 3.0);
    mean += v / static_cast<double>(bv.size());
  }
  EXPECT_NEAR(mean, 0.5, 0.05);
  big.normal_(1.0, 0.5);
  const std::vector<double> nv = values(big);
  double m = 0, var = 0;
  for (double v : nv) m += v / static_cast<double>(nv.size());
  for (double v : nv) var += (v - m) * (v - m) / static_cast<double>(nv.size());
  EXPECT_NEAR(m, 1.0, 0.02);
  EXPECT_NEAR(std::sqrt(var), 0.5, 0.02);
  // consecutive draws differ
  Tensor a = empty({8}), b = empty({8});
  a.uniform_();
  b.uniform_();
  EXPECT_NE(values(a), values(b));
}

TEST(ElementwiseInPlace, Errors) {
  Tensor i = ints({1, 2});
  EXPECT_TRUE(contains(error_of([&] { i.exp_(); }), "exp_"));
  EXPECT_THROW(i.add_(2.5), Error);
  EXPECT_THROW(i.div_(2.0), Error);
  EXPECT_THROW(i.add_(tensor({0.5f, 0.5f})), Error);
  EXPECT_THROW(i.pow_(0.5), Error);
  EXPECT_THROW(i.pow_(-1.0), Error);
  EXPECT_THROW(i.clamp_(0.5, 1.5), Error);
  EXPECT_THROW(i.uniform_(), Error);
  EXPECT_THROW(i.masked_fill_(tensor({true, false}), 0.5), Error);
  Tensor b = tensor({true, false});
  EXPECT_THROW(b.neg_(), Error);
  EXPECT_THROW(b.add_(1.0), Error);
  Tensor f = zeros({2, 3});
  EXPECT_THROW(f.add_(ones({3, 3})), Error);  // the result does not fit self
  EXPECT_THROW(f.uniform_(2.0, 1.0), Error);
  EXPECT_THROW(f.normal_(0.0, -1.0), Error);
  EXPECT_THROW(f.masked_fill_(tensor({1.0, 0.0, 1.0}), 1.0), Error);  // mask not bool
  EXPECT_THROW(f.clamp_(std::nullopt, std::nullopt), Error);
  Tensor expanded = zeros({3}).expand({2, 3});
  const std::string message = error_of([&] { expanded.exp_(); });
  EXPECT_TRUE(contains(message, "share memory")) << message;
  EXPECT_THROW(expanded.fill_(1.0), Error);
  EXPECT_THROW(expanded.add_(1.0), Error);
}

// ---- errors -----------------------------------------------------------------------------------------------

TEST(ElementwiseErrors, ShapeMismatchNamesBothShapes) {
  const std::vector<std::pair<std::string, std::function<void()>>> calls = {
      {"add", [] { (void)(zeros({2, 3}) + zeros({4})); }},
      {"mul", [] { (void)(zeros({2, 3}) * zeros({4})); }},
      {"pow", [] { (void)zeros({2, 3}).pow(zeros({4})); }},
      {"maximum", [] { (void)zeros({2, 3}).maximum(zeros({4})); }},
      {"eq", [] { (void)(zeros({2, 3}) == zeros({4})); }},
      {"logical_and", [] { (void)zeros({2, 3}).logical_and(zeros({4})); }},
  };
  for (const auto& [op, call] : calls) {
    const std::string message = error_of(call);
    EXPECT_TRUE(contains(message, op)) << message;
    EXPECT_TRUE(contains(message, "[2, 3]") && contains(message, "[4]")) << message;
  }
  const std::string w = error_of([] { (void)where(zeros({2}).gt(0.0), zeros({3}), zeros({2})); });
  EXPECT_TRUE(contains(w, "where") && contains(w, "[2]") && contains(w, "[3]")) << w;
  const std::string m = error_of([] { (void)zeros({2, 3}).masked_fill(ones({4}).gt(0.0), 1.0); });
  EXPECT_TRUE(contains(m, "masked_fill") && contains(m, "[4]") && contains(m, "[2, 3]")) << m;
}

TEST(ElementwiseErrors, Misuse) {
  const std::string g = error_of([] { (void)gelu(zeros({2}), "erf"); });
  EXPECT_TRUE(contains(g, "gelu") && contains(g, "erf")) << g;
  EXPECT_TRUE(contains(error_of([] { (void)zeros({2}).clamp(std::nullopt, std::nullopt); }), "clamp"));
  EXPECT_THROW(softplus(zeros({2}), 0.0), Error);
  EXPECT_TRUE(contains(error_of([] { (void)where(zeros({2}), zeros({2}), zeros({2})); }), "bool"));
  EXPECT_TRUE(contains(error_of([] { (void)zeros({2}).masked_fill(zeros({2}), 1.0); }), "bool"));
  EXPECT_THROW(ints({1}).masked_fill(tensor({true}), 0.5), Error);
  EXPECT_THROW(-tensor({true, false}), Error);
  EXPECT_THROW(tensor({true}).abs(), Error);
  EXPECT_THROW(ints({2}).pow(-1.0), Error);
  EXPECT_THROW(ints({2}).pow(ints({-1})), Error);
  EXPECT_THROW(tensor({true}) - tensor({false}), Error);
  EXPECT_THROW(exp(Tensor()), Error);
  EXPECT_THROW(Tensor() + zeros({1}), Error);
}

}  // namespace
}  // namespace tandem
