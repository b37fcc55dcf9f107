// Tests of gradcheck and gradgradcheck themselves (autograd/gradcheck.cpp): they accept correct gradients and,
// more importantly, reject wrong ones — a custom Function with a deliberately wrong backward, or one whose
// backward is right but not differentiable — and they refuse inputs they cannot check.
#include <gtest/gtest.h>
#include <tandem.h>

#include <string>

namespace {

using namespace tandem;
using autograd::AutogradContext;
using autograd::GradcheckOptions;
using autograd::variable_list;

const TensorOptions kF64Grad = TensorOptions(kFloat64).requires_grad(true);

GradcheckOptions quiet() {
  GradcheckOptions o;
  o.raise_exception = false;
  return o;
}

/// x^2 with a backward that is off by a factor of 2 (returns 4x instead of 2x).
struct WrongSquare : autograd::Function<WrongSquare> {
  static Tensor forward(AutogradContext* ctx, Tensor x) {
    ctx->save_for_backward({x});
    return x * x;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    return {grad[0] * 4 * ctx->get_saved_variables()[0]};
  }
};

/// x^2 with the right first derivative computed from a detached copy: its second derivative is lost.
struct DetachedSquare : autograd::Function<DetachedSquare> {
  static Tensor forward(AutogradContext* ctx, Tensor x) {
    ctx->save_for_backward({x});
    return x * x;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    return {grad[0] * 2 * ctx->get_saved_variables()[0].detach()};
  }
};

/// Sums its input but forgets the gradient of the last element.
struct LeakySum : autograd::Function<LeakySum> {
  static Tensor forward(AutogradContext*, Tensor x) { return x.sum(); }
  static variable_list backward(AutogradContext*, variable_list grad) {
    Tensor g = ones({4}, kFloat64) * grad[0];
    return {g * tensor({1.0, 1.0, 1.0, 0.0})};
  }
};

TEST(Gradcheck, AcceptsCorrectGradients) {
  Tensor x = randn({3, 4}, kF64Grad);
  EXPECT_TRUE(autograd::gradcheck([](const variable_list& in) { return in[0].tanh(); }, {x}));
  EXPECT_TRUE(autograd::gradgradcheck([](const variable_list& in) { return in[0].tanh(); }, {x}));
  Tensor y = randn({4}, kF64Grad);
  EXPECT_TRUE(autograd::gradcheck([](const variable_list& in) { return in[0] * in[1] + in[0]; }, {x, y}));
}

TEST(Gradcheck, RejectsAWrongBackward) {
  Tensor x = randn({2, 3}, kF64Grad);
  auto fn = [](const variable_list& in) { return WrongSquare::apply(in[0]); };
  EXPECT_FALSE(autograd::gradcheck(fn, {x}, quiet()));
  try {
    autograd::gradcheck(fn, {x});
    FAIL() << "gradcheck did not throw for a wrong backward";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("gradcheck"), std::string::npos) << msg;
    EXPECT_NE(msg.find("mismatch"), std::string::npos) << msg;
    EXPECT_NE(msg.find("analytic"), std::string::npos) << msg;
  }
}

TEST(Gradcheck, RejectsAMissingJacobianEntry) {
  Tensor x = randn({4}, kF64Grad);
  EXPECT_FALSE(autograd::gradcheck([](const variable_list& in) { return LeakySum::apply(in[0]); }, {x}, quiet()));
}

TEST(Gradcheck, GradgradcheckRejectsANonDifferentiableBackward) {
  Tensor x = randn({3}, kF64Grad);
  auto fn = [](const variable_list& in) { return DetachedSquare::apply(in[0]); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x})) << "the first derivative is right";
  EXPECT_FALSE(autograd::gradgradcheck(fn, {x}, quiet())) << "the second derivative is not";
}

TEST(Gradcheck, ChecksOnlyInputsThatRequireGrad) {
  Tensor x = randn({3}, kF64Grad);
  Tensor constant = randn({3}, kFloat64);
  EXPECT_TRUE(autograd::gradcheck([](const variable_list& in) { return in[0] * in[1]; }, {x, constant}));
}

TEST(Gradcheck, SeveralOutputsAndNonContiguousInputs) {
  Tensor x = randn({3, 2}, kFloat64).t().requires_grad_(true);
  ASSERT_FALSE(x.is_contiguous());
  auto fn = [](const variable_list& in) -> variable_list { return {in[0] * 2, (in[0] * in[0]).sum()}; };
  EXPECT_TRUE(autograd::gradcheck(fn, {x}));
  EXPECT_TRUE(autograd::gradgradcheck(fn, {x}));
}

TEST(Gradcheck, ToleranceOptions) {
  // A backward that is off by 1e-4 relative: within rtol 1e-3, outside rtol 1e-6.
  struct SlightlyOff : autograd::Function<SlightlyOff> {
    static Tensor forward(AutogradContext*, Tensor x) { return x * 3; }
    static variable_list backward(AutogradContext*, variable_list grad) { return {grad[0] * (3 * (1 + 1e-4))}; }
  };
  Tensor x = randn({3}, kF64Grad);
  auto fn = [](const variable_list& in) { return SlightlyOff::apply(in[0]); };
  GradcheckOptions loose = quiet();
  loose.rtol = 1e-3;
  loose.atol = 0;
  GradcheckOptions tight = quiet();
  tight.rtol = 1e-6;
  tight.atol = 0;
  EXPECT_TRUE(autograd::gradcheck(fn, {x}, loose));
  EXPECT_FALSE(autograd::gradcheck(fn, {x}, tight));
}

TEST(Gradcheck, RefusesInputsItCannotCheck) {
  auto identity = [](const variable_list& in) { return in[0] * 1; };
  EXPECT_THROW(autograd::gradcheck(identity, {randn({3}, requires_grad())}), Error) << "float32";
  EXPECT_THROW(autograd::gradcheck(identity, {randn({3}, kFloat64)}), Error) << "nothing requires grad";
  Tensor expanded = randn({1, 3}, kFloat64).expand({2, 3}).requires_grad_(true);
  EXPECT_THROW(autograd::gradcheck(identity, {expanded}), Error) << "overlapping elements";
  try {
    autograd::gradcheck(identity, {randn({3}, requires_grad())});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("float64"), std::string::npos) << e.what();
  }
}

TEST(Gradcheck, LeavesInputsUnchanged) {
  Tensor x = randn({5}, kF64Grad);
  const std::vector<double> before = x.to_vector<double>();
  autograd::gradcheck([](const variable_list& in) { return in[0].tanh(); }, {x});
  EXPECT_EQ(x.to_vector<double>(), before);
  EXPECT_FALSE(x.grad().defined());
}

}  // namespace
