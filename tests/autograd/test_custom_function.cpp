// Tests of custom differentiable ops written as autograd::Function<T> (autograd/function.h): forward and
// backward, tensors saved for backward (inputs and outputs), non-tensor arguments and saved_data,
// needs_input_grad, mark_non_differentiable, grad mode inside forward, and gradcheck/gradgradcheck of them.
#include <gtest/gtest.h>
#include <tandem.h>

#include <cmath>
#include <string>

namespace {

using namespace tandem;
using autograd::AutogradContext;
using autograd::variable_list;

const TensorOptions kF64Grad = TensorOptions(kFloat64).requires_grad(true);

/// x^3, saving its input; backward written with tensor ops, so it is twice differentiable.
struct Cube : autograd::Function<Cube> {
  static Tensor forward(AutogradContext* ctx, Tensor x) {
    ctx->save_for_backward({x});
    return x * x * x;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    Tensor x = ctx->get_saved_variables()[0];
    return {grad[0] * 3 * x * x};
  }
};

/// exp(x), saving its output.
struct Exp : autograd::Function<Exp> {
  static Tensor forward(AutogradContext* ctx, Tensor x) {
    Tensor y = x.exp();
    ctx->save_for_backward({y});
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    return {grad[0] * ctx->get_saved_variables()[0]};
  }
};

/// alpha * x + shift * y, with a double and an int64 among the arguments; records what forward saw.
struct ScaleAdd : autograd::Function<ScaleAdd> {
  static inline bool grad_mode_in_forward = true;
  static inline bool needs_x = false, needs_y = false;
  static Tensor forward(AutogradContext* ctx, Tensor x, double alpha, Tensor y, int64_t shift) {
    grad_mode_in_forward = GradMode::is_enabled();
    needs_x = ctx->needs_input_grad(0);
    needs_y = ctx->needs_input_grad(1);
    ctx->saved_data["alpha"] = alpha;
    ctx->saved_data["shift"] = shift;
    ctx->saved_data["note"] = "scale-add";
    return x * alpha + y * static_cast<double>(shift);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    EXPECT_EQ(ctx->saved_data["note"].toString(), "scale-add");
    const double alpha = ctx->saved_data["alpha"].toDouble();
    const double shift = static_cast<double>(ctx->saved_data["shift"].toInt());
    // One entry per forward argument; the non-tensor ones get undefined tensors.
    return {grad[0] * alpha, Tensor(), grad[0] * shift, Tensor()};
  }
};

/// Returns (2x, index of the largest element); the index is not differentiable.
struct DoubleAndArgmax : autograd::Function<DoubleAndArgmax> {
  static variable_list forward(AutogradContext* ctx, Tensor x) {
    Tensor index = x.argmax();
    ctx->mark_non_differentiable({index});
    return {x * 2, index};
  }
  static variable_list backward(AutogradContext*, variable_list grad) { return {grad[0] * 2}; }
};

/// x * y for two tensors, returning only the gradients that are needed.
struct Product : autograd::Function<Product> {
  static Tensor forward(AutogradContext* ctx, Tensor x, Tensor y) {
    ctx->save_for_backward({x, y});
    return x * y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    variable_list saved = ctx->get_saved_variables();
    return {ctx->needs_input_grad(0) ? grad[0] * saved[1] : Tensor(),
            ctx->needs_input_grad(1) ? grad[0] * saved[0] : Tensor()};
  }
};

TEST(CustomFunction, ForwardAndBackward) {
  Tensor x = tensor({1.0, -2.0, 0.5}, requires_grad());
  Tensor y = Cube::apply(x);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{1, -8, 0.125}));
  ASSERT_NE(y.grad_fn(), nullptr);
  EXPECT_FALSE(y.grad_fn()->name().empty());
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 12, 0.75}));
}

TEST(CustomFunction, ConnectsToTheGraphAroundIt) {
  Tensor x = tensor({1.0, 2.0}, requires_grad());
  Tensor y = Cube::apply(x * 2) * 3;  // 3 (2x)^3 -> 72 x^2
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{72, 288}));
}

TEST(CustomFunction, GradcheckAndGradgradcheck) {
  Tensor x = randn({3, 2}, kF64Grad);
  auto cube = [](const variable_list& in) { return Cube::apply(in[0]); };
  EXPECT_TRUE(autograd::gradcheck(cube, {x}));
  EXPECT_TRUE(autograd::gradgradcheck(cube, {x}));
  Tensor xt = randn({2, 3}, TensorOptions(kFloat64)).t().requires_grad_(true);  // non-contiguous
  EXPECT_TRUE(autograd::gradcheck(cube, {xt}));
}

TEST(CustomFunction, SavedOutput) {
  Tensor x = tensor({0.0, 1.0}, requires_grad());
  Tensor y = Exp::apply(x);
  y.sum().backward();
  EXPECT_NEAR(x.grad().to_vector<double>()[0], 1.0, 1e-12);
  EXPECT_NEAR(x.grad().to_vector<double>()[1], std::exp(1.0), 1e-12);
  Tensor z = randn({4}, kF64Grad);
  auto exp_fn = [](const variable_list& in) { return Exp::apply(in[0]); };
  EXPECT_TRUE(autograd::gradcheck(exp_fn, {z}));
  EXPECT_TRUE(autograd::gradgradcheck(exp_fn, {z})) << "the saved output carries its grad_fn on unpack";
}

TEST(CustomFunction, SavedOutputDoesNotKeepTheGraphAlive) {
  Tensor x = randn({3}, kF64Grad);
  std::weak_ptr<autograd::Node> node;
  {
    Tensor y = Exp::apply(x);
    node = y.grad_fn();
    ASSERT_FALSE(node.expired());
  }
  EXPECT_TRUE(node.expired()) << "saving an output must not make a reference cycle";
}

TEST(CustomFunction, NonTensorArgumentsAndSavedData) {
  Tensor x = tensor({1.0, 2.0}, requires_grad());
  Tensor y = tensor({3.0, 4.0}, requires_grad());
  Tensor out = ScaleAdd::apply(x, 0.5, y, int64_t{3});
  EXPECT_FALSE(ScaleAdd::grad_mode_in_forward) << "forward runs with grad mode off";
  EXPECT_TRUE(GradMode::is_enabled());
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{0.5 + 9, 1 + 12}));
  out.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0.5, 0.5}));
  EXPECT_EQ(y.grad().to_vector<double>(), (std::vector<double>{3, 3}));
  auto fn = [](const variable_list& in) { return ScaleAdd::apply(in[0], -1.5, in[1], int64_t{2}); };
  EXPECT_TRUE(autograd::gradcheck(fn, {randn({3}, kF64Grad), randn({3}, kF64Grad)}));
}

TEST(CustomFunction, NeedsInputGrad) {
  Tensor x = randn({2}, kF64Grad);
  Tensor constant = randn({2}, kFloat64);
  ScaleAdd::apply(x, 1.0, constant, int64_t{1});
  EXPECT_TRUE(ScaleAdd::needs_x);
  EXPECT_FALSE(ScaleAdd::needs_y);
  Tensor out = Product::apply(constant, x);
  out.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), constant.to_vector<double>());
}

TEST(CustomFunction, MarkNonDifferentiable) {
  Tensor x = tensor({1.0, 5.0, 2.0}, requires_grad());
  variable_list out = DoubleAndArgmax::apply(x);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].requires_grad());
  EXPECT_FALSE(out[1].requires_grad());
  EXPECT_EQ(out[1].item<int64_t>(), 1);
  out[0].sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 2, 2}));
}

TEST(CustomFunction, WithoutGradTheResultIsPlain) {
  Tensor x = randn({2}, kF64Grad);
  {
    NoGradGuard no_grad;
    Tensor y = Cube::apply(x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  Tensor plain = Cube::apply(randn({2}, kFloat64));
  EXPECT_FALSE(plain.requires_grad());
}

TEST(CustomFunction, SavedInputModifiedInPlaceIsAnError) {
  Tensor x = randn({3}, kF64Grad);
  Tensor a = x.clone();
  Tensor y = Cube::apply(a);
  a.add_(1.0);
  try {
    y.sum().backward();
    FAIL() << "backward after an in-place change of a saved tensor did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("in-place"), std::string::npos) << e.what();
  }
}

TEST(CustomFunction, TooManyGradientsIsAnError) {
  struct Bad : autograd::Function<Bad> {
    static Tensor forward(AutogradContext*, Tensor x) { return x * 1; }
    static variable_list backward(AutogradContext*, variable_list grad) { return {grad[0], grad[0], grad[0]}; }
  };
  Tensor x = randn({2}, kF64Grad);
  try {
    Bad::apply(x).sum().backward();
    FAIL() << "a backward returning 3 gradients for 1 input did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("3 gradients"), std::string::npos) << e.what();
  }
}

}  // namespace
