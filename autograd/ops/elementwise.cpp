// Element-wise ops: arithmetic, unary functions, comparisons, where/masked_fill, and their in-place forms.
// Each op: forward through ops::unary_forward / ops::binary_forward (promotion + broadcasting + one backend
// call), then a backward node whose rule is written with differentiable tensor ops (so double backward works).
// Rules return gradients in the broadcast shape; the engine sums them down to each input's shape.
//
// In-place ops: when no graph is recorded they write straight into self (after detail::check_inplace, then a
// version bump); otherwise they compute out of place and detail::assign_inplace rebases self's history on the
// result. Writes into tensors whose elements share memory (expanded views) are rejected.
#include <cmath>
#include <limits>
#include <numbers>

#include "autograd/ops/common.h"
#include "backends/philox.h"
#include "tensor/random.h"

namespace tandem {

using autograd::make_node;
using autograd::Node;
using autograd::SavedVariable;
using autograd::set_history;
using autograd::variable_list;

// =============================================================================================================
// add / sub / mul / div
// =============================================================================================================
namespace {

struct AddBackward final : Node {
  double alpha = 1;  // out = a + alpha * b
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    if (needs_input_grad(0)) r[0] = g[0];
    if (needs_input_grad(1)) r[1] = alpha == 1 ? g[0] : g[0] * alpha;
    return r;
  }
  std::string name() const override { return "AddBackward"; }
};

struct MulBackward final : Node {
  SavedVariable a, b;
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    if (needs_input_grad(0)) r[0] = g[0] * b.unpack(this);
    if (needs_input_grad(1)) r[1] = g[0] * a.unpack(this);
    return r;
  }
  std::string name() const override { return "MulBackward"; }
  void release_variables() override {
    a.reset();
    b.reset();
  }
};

struct DivBackward final : Node {
  SavedVariable a, b;
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    Tensor bv = b.unpack(this);
    if (needs_input_grad(0)) r[0] = g[0] / bv;
    if (needs_input_grad(1)) r[1] = -g[0] * a.unpack(this) / (bv * bv);
    return r;
  }
  std::string name() const override { return "DivBackward"; }
  void release_variables() override {
    a.reset();
    b.reset();
  }
};

/// Backward of x -> x * factor (also used for x + c, c - x, x / c).
struct ScaleBackward final : Node {
  double factor = 1;
  const char* op = "ScaleBackward";
  variable_list apply(variable_list&& g) override { return {factor == 1 ? g[0] : g[0] * factor}; }
  std::string name() const override { return op; }
};

/// Backward of c / x: -c / x^2.
struct RDivBackward final : Node {
  SavedVariable x;
  double c = 1;
  variable_list apply(variable_list&& g) override {
    Tensor xv = x.unpack(this);
    return {g[0] * (-c) / (xv * xv)};
  }
  std::string name() const override { return "RDivBackward"; }
  void release_variables() override { x.reset(); }
};

/// The dtype of x <op> c for the scalar ops: true division always makes a floating result.
ScalarType scalar_op_type(const Tensor& x, UnaryOp op, double c) {
  if (op == UnaryOp::DivScalar || op == UnaryOp::RDivScalar) return is_floating(x.dtype()) ? x.dtype() : kFloat32;
  return ops::scalar_result_type(x, c);
}

Tensor scaled(const Tensor& x, UnaryOp op, double c, double grad_factor, const char* name, const char* node_name) {
  detail::check_defined(x, name);
  const ScalarType result = scalar_op_type(x, op, c);
  Tensor in = x;
  if (x.dtype() == kBool && result == kInt64) {  // bool + 2 counts in int64
    AutoGradMode no_grad(false);
    in = x.to(kInt64);
  }
  Tensor out = ops::unary_forward(op, in, name, c, 0, /*floating=*/result != in.dtype());
  if (auto node = make_node<ScaleBackward>(x)) {
    node->factor = grad_factor;
    node->op = node_name;
    set_history(out, node);
  }
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out = alpha == 1 ? ops::binary_forward(BinaryOp::Add, a, b, "add")
                          : ops::binary_forward(BinaryOp::Add, a, b.mul(alpha), "add");
  if (auto node = make_node<AddBackward>(a, b)) {
    node->alpha = alpha;
    set_history(out, node);
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) {
  TD_CHECK(a.dtype() != kBool || b.dtype() != kBool, "sub: subtraction of two bool tensors is not supported; use "
           "logical_xor or convert to int64");
  Tensor out = alpha == 1 ? ops::binary_forward(BinaryOp::Sub, a, b, "sub")
                          : ops::binary_forward(BinaryOp::Sub, a, b.mul(alpha), "sub");
  if (auto node = make_node<AddBackward>(a, b)) {
    node->alpha = -alpha;
    set_history(out, node);
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = ops::binary_forward(BinaryOp::Mul, a, b, "mul");
  if (auto node = make_node<MulBackward>(a, b)) {
    if (node->needs_input_grad(1)) node->a = SavedVariable(a);
    if (node->needs_input_grad(0)) node->b = SavedVariable(b);
    set_history(out, node);
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = ops::binary_forward(BinaryOp::Div, a, b, "div");
  if (auto node = make_node<DivBackward>(a, b)) {
    if (node->needs_input_grad(1)) node->a = SavedVariable(a);
    node->b = SavedVariable(b);
    set_history(out, node);
  }
  return out;
}

Tensor Tensor::add(const Tensor& other, double alpha) const { return tandem::add(*this, other, alpha); }
Tensor Tensor::sub(const Tensor& other, double alpha) const { return tandem::sub(*this, other, alpha); }
Tensor Tensor::mul(const Tensor& other) const { return tandem::mul(*this, other); }
Tensor Tensor::div(const Tensor& other) const { return tandem::div(*this, other); }
Tensor Tensor::add(double c) const { return scaled(*this, UnaryOp::AddScalar, c, 1, "add", "AddBackward"); }
Tensor Tensor::sub(double c) const { return scaled(*this, UnaryOp::AddScalar, -c, 1, "sub", "SubBackward"); }
Tensor Tensor::mul(double c) const { return scaled(*this, UnaryOp::MulScalar, c, c, "mul", "MulBackward"); }
Tensor Tensor::div(double c) const { return scaled(*this, UnaryOp::DivScalar, c, 1 / c, "div", "DivBackward"); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return a.add(b); }
Tensor operator-(const Tensor& a, double b) { return a.sub(b); }
Tensor operator*(const Tensor& a, double b) { return a.mul(b); }
Tensor operator/(const Tensor& a, double b) { return a.div(b); }
Tensor operator+(double a, const Tensor& b) { return b.add(a); }
Tensor operator*(double a, const Tensor& b) { return b.mul(a); }
Tensor operator-(double a, const Tensor& b) {
  return scaled(b, UnaryOp::RSubScalar, a, -1, "rsub", "RsubBackward");
}
Tensor operator/(double a, const Tensor& b) {
  Tensor out = ops::unary_forward(UnaryOp::RDivScalar, b, "div", a, 0, /*floating=*/true);
  if (auto node = make_node<RDivBackward>(b)) {
    node->x = SavedVariable(b);
    node->c = a;
    set_history(out, node);
  }
  return out;
}

// =============================================================================================================
// pow / maximum / minimum
// =============================================================================================================
namespace {

/// d(a^b): to a, g b a^(b-1) (zero where b == 0, so that 0^0 gives 0 rather than 0 * inf); to b, g a^b log(a),
/// zero where a == 0 and b >= 0 (the limit; log(0) = -inf would make it NaN), and NaN for a < 0 like libtorch.
struct PowBackward final : Node {
  SavedVariable base, exponent, result;
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    Tensor a = base.unpack(this), b = exponent.unpack(this);
    if (needs_input_grad(0)) r[0] = where(b.eq(0.0), 0.0, g[0] * (b * a.pow(b - 1.0)));
    if (needs_input_grad(1)) {
      Tensor y = result.unpack(this);
      r[1] = where(a.eq(0.0).logical_and(b.ge(0.0)), 0.0, g[0] * (y * a.log()));
    }
    return r;
  }
  std::string name() const override { return "PowBackward"; }
  void release_variables() override {
    base.reset();
    exponent.reset();
    result.reset();
  }
};

/// d(x^p)/dx = p x^(p-1); zero for p == 0.
struct PowScalarBackward final : Node {
  SavedVariable x;
  double p = 1;
  variable_list apply(variable_list&& g) override {
    if (p == 0) return {zeros_like(g[0])};
    return {g[0] * (x.unpack(this).pow(p - 1) * p)};
  }
  std::string name() const override { return "PowBackward"; }
  void release_variables() override { x.reset(); }
};

/// d(c^x)/dx = c^x log(c); for c == 0 the gradient is 0 where x >= 0 (as libtorch).
struct RPowBackward final : Node {
  SavedVariable result, x;
  double c = 1;
  variable_list apply(variable_list&& g) override {
    Tensor grad = g[0] * (result.unpack(this) * std::log(c));
    if (c == 0) grad = where(x.unpack(this).ge(0.0), 0.0, grad);
    return {grad};
  }
  std::string name() const override { return "PowBackward"; }
  void release_variables() override {
    result.reset();
    x.reset();
  }
};

/// maximum/minimum: the gradient goes to the winning operand; on ties it is split half/half (as libtorch).
struct MaxMinBackward final : Node {
  SavedVariable a, b;
  bool is_max = true;
  variable_list apply(variable_list&& g) override {
    variable_list r(2);
    Tensor av = a.unpack(this), bv = b.unpack(this);
    Tensor tie = av.eq(bv);
    if (needs_input_grad(0)) r[0] = g[0] * where(tie, 0.5, is_max ? av.gt(bv) : av.lt(bv));
    if (needs_input_grad(1)) r[1] = g[0] * where(tie, 0.5, is_max ? av.lt(bv) : av.gt(bv));
    return r;
  }
  std::string name() const override { return is_max ? "MaximumBackward" : "MinimumBackward"; }
  void release_variables() override {
    a.reset();
    b.reset();
  }
};

Tensor max_min(const Tensor& a, const Tensor& b, bool is_max) {
  const char* name = is_max ? "maximum" : "minimum";
  Tensor out = ops::binary_forward(is_max ? BinaryOp::Maximum : BinaryOp::Minimum, a, b, name);
  if (auto node = make_node<MaxMinBackward>(a, b)) {
    node->a = SavedVariable(a);
    node->b = SavedVariable(b);
    node->is_max = is_max;
    set_history(out, node);
  }
  return out;
}

void check_not_bool(const Tensor& x, const char* name) {
  TD_CHECK(x.dtype() != kBool, name, ": not supported for bool tensors; convert with .to(kInt64) or .to(kFloat32)");
}

/// The dtype of x^p: integral p keeps integer tensors integer (bool counts as int64); the tensor layer rejects
/// negative integral powers of integers, which have no integer result.
ScalarType pow_scalar_type(const Tensor& x, double p, const char* name) {
  const ScalarType t = ops::scalar_result_type(x, p);
  TD_CHECK(is_floating(t) || p >= 0, name, ": integers to negative integer powers are not allowed (", x.dtype(),
           " tensor to the power ", p, "); convert the tensor to float first");
  return t;
}

}  // namespace

Tensor pow(const Tensor& base, const Tensor& exponent) {
  Tensor out = ops::binary_forward(BinaryOp::Pow, base, exponent, "pow");
  if (auto node = make_node<PowBackward>(base, exponent)) {
    node->base = SavedVariable(base);
    node->exponent = SavedVariable(exponent);
    set_history(out, node);
    if (node->needs_input_grad(1)) node->result = SavedVariable(out, /*is_output=*/true);
  }
  return out;
}

Tensor pow(const Tensor& base, double exponent) {
  detail::check_defined(base, "pow");
  const ScalarType result = pow_scalar_type(base, exponent, "pow");
  Tensor in = base;
  if (base.dtype() == kBool && result == kInt64) {
    AutoGradMode no_grad(false);
    in = base.to(kInt64);
  }
  Tensor out = ops::unary_forward(UnaryOp::PowScalar, in, "pow", exponent, 0, /*floating=*/result != in.dtype());
  if (auto node = make_node<PowScalarBackward>(base)) {
    node->x = SavedVariable(base);
    node->p = exponent;
    set_history(out, node);
  }
  return out;
}

Tensor pow(double base, const Tensor& exponent) {
  detail::check_defined(exponent, "pow");
  const ScalarType result = ops::scalar_result_type(exponent, base);
  Tensor in = exponent;
  if (exponent.dtype() == kBool && result == kInt64) {
    AutoGradMode no_grad(false);
    in = exponent.to(kInt64);
  }
  Tensor out = ops::unary_forward(UnaryOp::RPowScalar, in, "pow", base, 0, /*floating=*/result != in.dtype());
  if (auto node = make_node<RPowBackward>(exponent)) {
    node->c = base;
    set_history(out, node);
    node->result = SavedVariable(out, /*is_output=*/true);
    if (base == 0) node->x = SavedVariable(exponent);
  }
  return out;
}

Tensor maximum(const Tensor& a, const Tensor& b) { return max_min(a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return max_min(a, b, false); }

Tensor Tensor::pow(const Tensor& exponent) const { return tandem::pow(*this, exponent); }
Tensor Tensor::pow(double exponent) const { return tandem::pow(*this, exponent); }
Tensor Tensor::maximum(const Tensor& other) const { return tandem::maximum(*this, other); }
Tensor Tensor::minimum(const Tensor& other) const { return tandem::minimum(*this, other); }

// =============================================================================================================
// Unary functions. Each is one call to unary_op: the kernel, what the rule keeps (input, output or nothing) and
// the rule itself, g -> dL/dx given the saved tensor s and the op's parameters.
// =============================================================================================================
namespace {

enum class Keep { Nothing, Input, Output };

struct UnaryBackward final : Node {
  using Rule = Tensor (*)(const Tensor& g, const Tensor& s, double p0, double p1);
  Rule rule = nullptr;
  const char* label = "UnaryBackward";
  SavedVariable saved;
  double p0 = 0, p1 = 0;
  variable_list apply(variable_list&& g) override { return {rule(g[0], saved.unpack(this), p0, p1)}; }
  std::string name() const override { return label; }
  void release_variables() override { saved.reset(); }
};

/// out = op(x) (floating functions promote integer inputs to float32 unless floating is false) with the
/// backward `rule` attached.
Tensor unary_op(const Tensor& x, UnaryOp op, const char* name, const char* node_name, Keep keep,
                UnaryBackward::Rule rule, double p0 = 0, double p1 = 0, bool floating = true) {
  Tensor out = ops::unary_forward(op, x, name, p0, p1, floating);
  if (auto node = make_node<UnaryBackward>(x)) {
    node->rule = rule;
    node->label = node_name;
    node->p0 = p0;
    node->p1 = p1;
    set_history(out, node);
    if (keep == Keep::Input) node->saved = SavedVariable(x);
    else if (keep == Keep::Output) node->saved = SavedVariable(out, /*is_output=*/true);
  }
  return out;
}

/// Unary ops that keep integer dtypes (neg, abs, sign, square, relu, rounding, clamp) are not defined for bool.
Tensor integral_unary_op(const Tensor& x, UnaryOp op, const char* name, const char* node_name, Keep keep,
                         UnaryBackward::Rule rule) {
  detail::check_defined(x, name);
  check_not_bool(x, name);
  return unary_op(x, op, name, node_name, keep, rule, 0, 0, /*floating=*/false);
}

Tensor zero_rule(const Tensor& g, const Tensor&, double, double) { return zeros_like(g); }

constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;

}  // namespace

Tensor neg(const Tensor& x) {
  return integral_unary_op(x, UnaryOp::Neg, "neg", "NegBackward", Keep::Nothing,
                           [](const Tensor& g, const Tensor&, double, double) { return g.neg(); });
}
Tensor exp(const Tensor& x) {
  return unary_op(x, UnaryOp::Exp, "exp", "ExpBackward", Keep::Output,
                  [](const Tensor& g, const Tensor& y, double, double) { return g * y; });
}
Tensor log(const Tensor& x) {
  return unary_op(x, UnaryOp::Log, "log", "LogBackward", Keep::Input,
                  [](const Tensor& g, const Tensor& x, double, double) { return g / x; });
}
Tensor sqrt(const Tensor& x) {
  return unary_op(x, UnaryOp::Sqrt, "sqrt", "SqrtBackward", Keep::Output,
                  [](const Tensor& g, const Tensor& y, double, double) { return g / (y * 2.0); });
}
Tensor rsqrt(const Tensor& x) {  // y = x^(-1/2), dy/dx = -y^3 / 2
  return unary_op(x, UnaryOp::Rsqrt, "rsqrt", "RsqrtBackward", Keep::Output,
                  [](const Tensor& g, const Tensor& y, double, double) { return g * (y * y * y * -0.5); });
}
Tensor abs(const Tensor& x) {  // the gradient at 0 is 0 (sign(0)), as libtorch
  return integral_unary_op(x, UnaryOp::Abs, "abs", "AbsBackward", Keep::Input,
                           [](const Tensor& g, const Tensor& x, double, double) { return g * x.sign(); });
}
Tensor sign(const Tensor& x) {
  return integral_unary_op(x, UnaryOp::Sign, "sign", "SignBackward", Keep::Nothing, zero_rule);
}
Tensor tanh(const Tensor& x) {
  return unary_op(x, UnaryOp::Tanh, "tanh", "TanhBackward", Keep::Output,
                  [](const Tensor& g, const Tensor& y, double, double) { return g * (1.0 - y * y); });
}
Tensor sigmoid(const Tensor& x) {
  return unary_op(x, UnaryOp::Sigmoid, "sigmoid", "SigmoidBackward", Keep::Output,
                  [](const Tensor& g, const Tensor& y, double, double) { return g * (y * (1.0 - y)); });
}
Tensor relu(const Tensor& x) {  // y > 0 exactly where x > 0: the gradient at 0 is 0, as libtorch
  return integral_unary_op(x, UnaryOp::Relu, "relu", "ReluBackward", Keep::Output,
                           [](const Tensor& g, const Tensor& y, double, double) { return g * y.gt(0.0); });
}
Tensor leaky_relu(const Tensor& x, double negative_slope) {
  detail::check_defined(x, "leaky_relu");
  check_not_bool(x, "leaky_relu");
  return unary_op(
      x, UnaryOp::LeakyRelu, "leaky_relu", "LeakyReluBackward", Keep::Input,
      [](const Tensor& g, const Tensor& x, double slope, double) { return where(x.gt(0.0), g, g * slope); },
      negative_slope, 0, /*floating=*/true);
}
Tensor gelu(const Tensor& x, const std::string& approximate) {
  TD_CHECK(approximate == "none" || approximate == "tanh", "gelu: approximate must be \"none\" or \"tanh\", got \"",
           approximate, "\"");
  if (approximate == "none") {  // x Phi(x); d/dx = Phi(x) + x phi(x)
    return unary_op(x, UnaryOp::Gelu, "gelu", "GeluBackward", Keep::Input,
                    [](const Tensor& g, const Tensor& x, double, double) {
                      Tensor cdf = ((x * M_SQRT1_2).erf() + 1.0) * 0.5;
                      Tensor pdf = (x * x * -0.5).exp() * kInvSqrt2Pi;
                      return g * (cdf + x * pdf);
                    });
  }
  // 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3); d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) u'
  return unary_op(
      x, UnaryOp::Gelu, "gelu", "GeluBackward", Keep::Input,
      [](const Tensor& g, const Tensor& x, double, double) {
        Tensor x2 = x * x;
        Tensor t = (x * (x2 * kGeluCubic + 1.0) * kSqrt2OverPi).tanh();
        Tensor du = (x2 * (3 * kGeluCubic) + 1.0) * kSqrt2OverPi;
        return g * ((t + 1.0) * 0.5 + x * (1.0 - t * t) * du * 0.5);
      },
      /*p0=*/1);
}
Tensor silu(const Tensor& x) {  // x s(x); d/dx = s (1 + x (1 - s))
  return unary_op(x, UnaryOp::Silu, "silu", "SiluBackward", Keep::Input,
                  [](const Tensor& g, const Tensor& x, double, double) {
                    Tensor s = x.sigmoid();
                    return g * (s * (x * (1.0 - s) + 1.0));
                  });
}
Tensor softplus(const Tensor& x, double beta, double threshold) {
  TD_CHECK(beta != 0, "softplus: beta must be nonzero");
  return unary_op(
      x, UnaryOp::Softplus, "softplus", "SoftplusBackward", Keep::Input,
      [](const Tensor& g, const Tensor& x, double beta, double threshold) {
        Tensor z = x * beta;
        return g * where(z.gt(threshold), 1.0, z.sigmoid());
      },
      beta, threshold);
}
Tensor square(const Tensor& x) {
  return integral_unary_op(x, UnaryOp::Square, "square", "SquareBackward", Keep::Input,
                           [](const Tensor& g, const Tensor& x, double, double) { return g * (x * 2.0); });
}
Tensor reciprocal(const Tensor& x) {
  return unary_op(x, UnaryOp::Reciprocal, "reciprocal", "ReciprocalBackward", Keep::Output,
                  [](const Tensor& g, const Tensor& y, double, double) { return g * (y * y).neg(); });
}
Tensor sin(const Tensor& x) {
  return unary_op(x, UnaryOp::Sin, "sin", "SinBackward", Keep::Input,
                  [](const Tensor& g, const Tensor& x, double, double) { return g * x.cos(); });
}
Tensor cos(const Tensor& x) {
  return unary_op(x, UnaryOp::Cos, "cos", "CosBackward", Keep::Input,
                  [](const Tensor& g, const Tensor& x, double, double) { return g * x.sin().neg(); });
}
Tensor erf(const Tensor& x) {  // d/dx = 2/sqrt(pi) e^{-x^2}
  return unary_op(x, UnaryOp::Erf, "erf", "ErfBackward", Keep::Input,
                  [](const Tensor& g, const Tensor& x, double, double) {
                    return g * ((x * x).neg().exp() * M_2_SQRTPI);
                  });
}
Tensor log1p(const Tensor& x) {
  return unary_op(x, UnaryOp::Log1p, "log1p", "Log1pBackward", Keep::Input,
                  [](const Tensor& g, const Tensor& x, double, double) { return g / (x + 1.0); });
}
Tensor expm1(const Tensor& x) {
  return unary_op(x, UnaryOp::Expm1, "expm1", "Expm1Backward", Keep::Output,
                  [](const Tensor& g, const Tensor& y, double, double) { return g * (y + 1.0); });
}
Tensor floor(const Tensor& x) {
  return integral_unary_op(x, UnaryOp::Floor, "floor", "FloorBackward", Keep::Nothing, zero_rule);
}
Tensor ceil(const Tensor& x) {
  return integral_unary_op(x, UnaryOp::Ceil, "ceil", "CeilBackward", Keep::Nothing, zero_rule);
}
Tensor round(const Tensor& x) {
  return integral_unary_op(x, UnaryOp::Round, "round", "RoundBackward", Keep::Nothing, zero_rule);
}
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  detail::check_defined(x, "clamp");
  TD_CHECK(min.has_value() || max.has_value(), "clamp: at least one of min and max must be given");
  check_not_bool(x, "clamp");
  TD_CHECK(!(min && std::isnan(*min)) && !(max && std::isnan(*max)), "clamp: the bounds must not be NaN");
  const double lo = min.value_or(-std::numeric_limits<double>::infinity());
  const double hi = max.value_or(std::numeric_limits<double>::infinity());
  const bool floating = (min && ops::scalar_result_type(x, *min) != x.dtype()) ||
                        (max && ops::scalar_result_type(x, *max) != x.dtype());
  // The gradient passes where min <= x <= max.
  return unary_op(
      x, UnaryOp::Clamp, "clamp", "ClampBackward", Keep::Input,
      [](const Tensor& g, const Tensor& x, double lo, double hi) {
        if (std::isinf(lo)) return g * x.le(hi);
        if (std::isinf(hi)) return g * x.ge(lo);
        return g * x.ge(lo).logical_and(x.le(hi));
      },
      lo, hi, floating);
}

Tensor Tensor::neg() const { return tandem::neg(*this); }
Tensor Tensor::exp() const { return tandem::exp(*this); }
Tensor Tensor::log() const { return tandem::log(*this); }
Tensor Tensor::sqrt() const { return tandem::sqrt(*this); }
Tensor Tensor::rsqrt() const { return tandem::rsqrt(*this); }
Tensor Tensor::abs() const { return tandem::abs(*this); }
Tensor Tensor::sign() const { return tandem::sign(*this); }
Tensor Tensor::tanh() const { return tandem::tanh(*this); }
Tensor Tensor::sigmoid() const { return tandem::sigmoid(*this); }
Tensor Tensor::relu() const { return tandem::relu(*this); }
Tensor Tensor::square() const { return tandem::square(*this); }
Tensor Tensor::reciprocal() const { return tandem::reciprocal(*this); }
Tensor Tensor::sin() const { return tandem::sin(*this); }
Tensor Tensor::cos() const { return tandem::cos(*this); }
Tensor Tensor::erf() const { return tandem::erf(*this); }
Tensor Tensor::log1p() const { return tandem::log1p(*this); }
Tensor Tensor::expm1() const { return tandem::expm1(*this); }
Tensor Tensor::floor() const { return tandem::floor(*this); }
Tensor Tensor::ceil() const { return tandem::ceil(*this); }
Tensor Tensor::round() const { return tandem::round(*this); }
Tensor Tensor::clamp(std::optional<double> min, std::optional<double> max) const {
  return tandem::clamp(*this, min, max);
}
Tensor operator-(const Tensor& a) { return neg(a); }

// =============================================================================================================
// where / masked_fill
// =============================================================================================================
namespace {

/// Gradients of where(cond, a, b): g where cond to a, g elsewhere to b. A scalar side has no input slot.
struct WhereBackward final : Node {
  SavedVariable cond;
  bool has_a = true, has_b = true;  // which of a and b are tensor inputs (in that order)
  variable_list apply(variable_list&& g) override {
    Tensor c = cond.unpack(this);
    variable_list r;
    if (has_a) r.push_back(needs_input_grad(r.size()) ? where(c, g[0], 0.0) : Tensor());
    if (has_b) r.push_back(needs_input_grad(r.size()) ? where(c, 0.0, g[0]) : Tensor());
    return r;
  }
  std::string name() const override { return "WhereBackward"; }
  void release_variables() override { cond.reset(); }
};

struct MaskedFillBackward final : Node {
  SavedVariable mask;
  variable_list apply(variable_list&& g) override { return {g[0].masked_fill(mask.unpack(this), 0.0)}; }
  std::string name() const override { return "MaskedFillBackward"; }
  void release_variables() override { mask.reset(); }
};

/// A 0-dim tensor holding `value` in `dtype` on `device` (the scalar side of where / masked_fill).
Tensor scalar_operand(double value, ScalarType dtype, Device device) {
  Tensor t = detail::make_tensor(Dims{}, dtype, device);
  detail::backend_of(t).fill(detail::strided(t), value);
  return t;
}

/// The forward of where: broadcasts cond, a and b together and converts a and b to `dtype`.
Tensor where_forward(const Tensor& cond, const Tensor& a, const Tensor& b, ScalarType dtype) {
  TD_CHECK(cond.dtype() == kBool, "where: the condition must be a bool tensor, got ", cond.dtype());
  detail::check_same_device(cond, a, "where");
  detail::check_same_device(cond, b, "where");
  Dims shape;
  try {
    shape = broadcast_shapes(broadcast_shapes(cond.sizes(), a.sizes(), "where"), b.sizes(), "where");
  } catch (const Error&) {
    throw Error(detail::concat("where: condition of shape ", cond.sizes(), ", input of shape ", a.sizes(),
                               " and other of shape ", b.sizes(), " cannot be broadcast together"));
  }
  Tensor ca = a, cb = b;
  if (a.dtype() != dtype || b.dtype() != dtype) {
    AutoGradMode no_grad(false);
    if (a.dtype() != dtype) ca = a.to(dtype);
    if (b.dtype() != dtype) cb = b.to(dtype);
  }
  Tensor out = detail::make_tensor(shape, dtype, cond.device());
  detail::backend_of(out).where(detail::strided(cond, shape, detail::broadcast_strides(cond, shape)),
                                detail::strided(ca, shape, detail::broadcast_strides(ca, shape)),
                                detail::strided(cb, shape, detail::broadcast_strides(cb, shape)), detail::strided(out));
  return out;
}

/// Checks mask for masked_fill(_) on x: bool, broadcastable to x's shape.
void check_mask(const Tensor& x, const Tensor& mask, const char* name) {
  detail::check_defined(x, name);
  detail::check_defined(mask, name, "mask");
  TD_CHECK(mask.dtype() == kBool, name, ": the mask must be a bool tensor, got ", mask.dtype());
  detail::check_same_device(x, mask, name);
  TD_CHECK(broadcast_shapes(x.sizes(), mask.sizes(), name) == x.sizes(), name, ": mask of shape ", mask.sizes(),
           " cannot be broadcast to the input shape ", x.sizes());
}

void check_fill_value(const Tensor& x, double value, const char* name) {
  TD_CHECK(is_floating(x.dtype()) || (std::isfinite(value) && value == std::floor(value)), name, ": value ", value,
           " cannot be stored in a ", x.dtype(), " tensor");
}

}  // namespace

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  detail::check_defined(cond, "where", "condition");
  detail::check_defined(a, "where");
  detail::check_defined(b, "where", "other");
  Tensor out = where_forward(cond, a, b, promote_types(a.dtype(), b.dtype()));
  if (auto node = make_node<WhereBackward>(a, b)) {
    node->cond = SavedVariable(cond);
    set_history(out, node);
  }
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, double b) {
  detail::check_defined(cond, "where", "condition");
  detail::check_defined(a, "where");
  const ScalarType dtype = ops::scalar_result_type(a, b);
  Tensor out = where_forward(cond, a, scalar_operand(b, dtype, a.device()), dtype);
  if (auto node = make_node<WhereBackward>(a)) {
    node->cond = SavedVariable(cond);
    node->has_b = false;
    set_history(out, node);
  }
  return out;
}

Tensor where(const Tensor& cond, double a, const Tensor& b) {
  detail::check_defined(cond, "where", "condition");
  detail::check_defined(b, "where", "other");
  const ScalarType dtype = ops::scalar_result_type(b, a);
  Tensor out = where_forward(cond, scalar_operand(a, dtype, b.device()), b, dtype);
  if (auto node = make_node<WhereBackward>(b)) {
    node->cond = SavedVariable(cond);
    node->has_a = false;
    set_history(out, node);
  }
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_mask(x, mask, "masked_fill");
  check_fill_value(x, value, "masked_fill");
  const Dims& shape = x.sizes();
  Tensor fill = scalar_operand(value, x.dtype(), x.device());
  Tensor out = detail::make_tensor(shape, x.dtype(), x.device());
  detail::backend_of(out).where(detail::strided(mask, shape, detail::broadcast_strides(mask, shape)),
                                detail::strided(fill, shape, Dims(shape.size(), 0)), detail::strided(x),
                                detail::strided(out));
  if (auto node = make_node<MaskedFillBackward>(x)) {
    node->mask = SavedVariable(mask);
    set_history(out, node);
  }
  return out;
}

Tensor Tensor::masked_fill(const Tensor& mask, double value) const { return tandem::masked_fill(*this, mask, value); }

// =============================================================================================================
// Comparisons and logical ops (bool results, no gradient)
// =============================================================================================================
namespace {
Tensor compare(const Tensor& a, double b, UnaryOp op, const char* name) {
  return ops::unary_forward(op, a, name, b, 0, /*floating=*/false);
}
}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return ops::binary_forward(BinaryOp::Eq, a, b, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return ops::binary_forward(BinaryOp::Ne, a, b, "ne"); }
Tensor lt(const Tensor& a, const Tensor& b) { return ops::binary_forward(BinaryOp::Lt, a, b, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return ops::binary_forward(BinaryOp::Le, a, b, "le"); }
Tensor gt(const Tensor& a, const Tensor& b) { return ops::binary_forward(BinaryOp::Gt, a, b, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return ops::binary_forward(BinaryOp::Ge, a, b, "ge"); }
Tensor logical_not(const Tensor& x) { return ops::unary_forward(UnaryOp::LogicalNot, x, "logical_not", 0, 0, false); }
Tensor logical_and(const Tensor& a, const Tensor& b) {
  return ops::binary_forward(BinaryOp::LogicalAnd, a, b, "logical_and");
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return ops::binary_forward(BinaryOp::LogicalOr, a, b, "logical_or");
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  detail::check_defined(a, "allclose");
  detail::check_defined(b, "allclose", "other");
  detail::check_same_device(a, b, "allclose");
  TD_CHECK(rtol >= 0 && atol >= 0, "allclose: rtol and atol must be non-negative, got ", rtol, " and ", atol);
  const Dims shape = broadcast_shapes(a.sizes(), b.sizes(), "allclose");
  AutoGradMode no_grad(false);
  const std::vector<double> av = a.expand(shape).to_vector<double>();
  const std::vector<double> bv = b.expand(shape).to_vector<double>();
  for (size_t i = 0; i < av.size(); ++i) {
    if (av[i] == bv[i]) continue;                                       // also equal infinities
    if (!std::isfinite(av[i]) || !std::isfinite(bv[i])) return false;  // NaN, or unequal infinities
    if (!(std::abs(av[i] - bv[i]) <= atol + rtol * std::abs(bv[i]))) return false;
  }
  return true;
}

Tensor Tensor::eq(const Tensor& other) const { return tandem::eq(*this, other); }
Tensor Tensor::ne(const Tensor& other) const { return tandem::ne(*this, other); }
Tensor Tensor::lt(const Tensor& other) const { return tandem::lt(*this, other); }
Tensor Tensor::le(const Tensor& other) const { return tandem::le(*this, other); }
Tensor Tensor::gt(const Tensor& other) const { return tandem::gt(*this, other); }
Tensor Tensor::ge(const Tensor& other) const { return tandem::ge(*this, other); }
Tensor Tensor::eq(double other) const { return compare(*this, other, UnaryOp::EqScalar, "eq"); }
Tensor Tensor::ne(double other) const { return compare(*this, other, UnaryOp::NeScalar, "ne"); }
Tensor Tensor::lt(double other) const { return compare(*this, other, UnaryOp::LtScalar, "lt"); }
Tensor Tensor::le(double other) const { return compare(*this, other, UnaryOp::LeScalar, "le"); }
Tensor Tensor::gt(double other) const { return compare(*this, other, UnaryOp::GtScalar, "gt"); }
Tensor Tensor::ge(double other) const { return compare(*this, other, UnaryOp::GeScalar, "ge"); }
Tensor Tensor::logical_not() const { return tandem::logical_not(*this); }
Tensor Tensor::logical_and(const Tensor& other) const { return tandem::logical_and(*this, other); }
Tensor Tensor::logical_or(const Tensor& other) const { return tandem::logical_or(*this, other); }

Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator==(const Tensor& a, double b) { return a.eq(b); }
Tensor operator!=(const Tensor& a, double b) { return a.ne(b); }
Tensor operator<(const Tensor& a, double b) { return a.lt(b); }
Tensor operator<=(const Tensor& a, double b) { return a.le(b); }
Tensor operator>(const Tensor& a, double b) { return a.gt(b); }
Tensor operator>=(const Tensor& a, double b) { return a.ge(b); }
Tensor operator!(const Tensor& a) { return logical_not(a); }

// ---- in-place arithmetic --------------------------------------------------------------------------------------
namespace {

/// Whether an in-place op may store a `from` result into a `to` tensor: never into a lower category
/// (floating -> integer -> bool), as in libtorch.
bool can_cast(ScalarType from, ScalarType to) {
  auto category = [](ScalarType t) { return is_floating(t) ? 2 : (t == kInt64 ? 1 : 0); };
  return category(from) <= category(to);
}

/// Rejects in-place writes into a tensor whose elements share memory (a dim of stride 0 and size > 1).
void check_no_overlap(const Tensor& self, const char* name) {
  for (int64_t d = 0; d < self.dim(); ++d)
    TD_CHECK(self.strides()[d] != 0 || self.sizes()[d] <= 1, name,
             ": in-place operation on a tensor whose elements share memory (shape ", self.sizes(), ", strides ",
             self.strides(), ", e.g. an expanded view); clone() it first");
}

/// self = op(self, other) in place. Without a graph to record, writes straight into self's memory; otherwise
/// computes out of place with autograd and rebases self's history on the result.
Tensor& binary_inplace(Tensor& self, const Tensor& other, BinaryOp op, const char* name,
                       Tensor (*out_of_place)(const Tensor&, const Tensor&), bool rule_saves_self) {
  detail::check_defined(self, name);
  detail::check_defined(other, name, "other");
  check_no_overlap(self, name);
  ScalarType result = promote_types(self.dtype(), other.dtype());
  if (op == BinaryOp::Div && !is_floating(result)) result = kFloat32;  // true division
  TD_CHECK(can_cast(result, self.dtype()), name, ": the result type ", result, " cannot be written into a ",
           self.dtype(), " tensor in place");
  const bool records = GradMode::is_enabled() && (self.requires_grad() || other.requires_grad());
  if (records) {  // a rule that keeps self must keep its old values, which the write below overwrites
    return detail::assign_inplace(self, out_of_place(rule_saves_self ? self.clone() : self, other), name);
  }
  detail::check_inplace(self, name);
  detail::check_same_device(self, other, name);
  const Dims shape = broadcast_shapes(self.sizes(), other.sizes(), name);
  TD_CHECK(shape == self.sizes(), name, ": the result of shape ", shape, " does not fit the in-place output of shape ",
           self.sizes());
  Tensor o = other.dtype() == self.dtype() ? other : other.to(self.dtype());
  detail::backend_of(self).binary(op, detail::strided(self), detail::strided(o, shape, detail::broadcast_strides(o, shape)),
                                  detail::strided(self));
  detail::bump_version(self);
  return self;
}

Tensor& scalar_inplace(Tensor& self, UnaryOp op, double c, const char* name, Tensor (*out_of_place)(const Tensor&, double)) {
  detail::check_defined(self, name);
  check_no_overlap(self, name);
  const ScalarType result = scalar_op_type(self, op, c);
  TD_CHECK(can_cast(result, self.dtype()), name, ": the result type ", result, " (", self.dtype(), " with the scalar ",
           c, ") cannot be written into a ", self.dtype(), " tensor in place");
  if (GradMode::is_enabled() && self.requires_grad()) return detail::assign_inplace(self, out_of_place(self, c), name);
  detail::check_inplace(self, name);
  detail::backend_of(self).unary(op, detail::strided(self), detail::strided(self), c, 0);
  detail::bump_version(self);
  return self;
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  auto out_of_place = [](const Tensor& a, const Tensor& b) { return tandem::add(a, b); };
  return binary_inplace(*this, alpha == 1 ? other : other.mul(alpha), BinaryOp::Add, "add_", out_of_place, false);
}
Tensor& Tensor::sub_(const Tensor& other, double alpha) {
  auto out_of_place = [](const Tensor& a, const Tensor& b) { return tandem::sub(a, b); };
  return binary_inplace(*this, alpha == 1 ? other : other.mul(alpha), BinaryOp::Sub, "sub_", out_of_place, false);
}
Tensor& Tensor::mul_(const Tensor& other) {  // MulBackward keeps self: the recorded path clones it first
  auto out_of_place = [](const Tensor& a, const Tensor& b) { return tandem::mul(a, b); };
  return binary_inplace(*this, other, BinaryOp::Mul, "mul_", out_of_place, true);
}
Tensor& Tensor::div_(const Tensor& other) {
  auto out_of_place = [](const Tensor& a, const Tensor& b) { return tandem::div(a, b); };
  return binary_inplace(*this, other, BinaryOp::Div, "div_", out_of_place, true);
}
Tensor& Tensor::add_(double c) {
  return scalar_inplace(*this, UnaryOp::AddScalar, c, "add_", [](const Tensor& a, double v) { return a.add(v); });
}
Tensor& Tensor::sub_(double c) {
  return scalar_inplace(*this, UnaryOp::AddScalar, -c, "sub_", [](const Tensor& a, double v) { return a.add(v); });
}
Tensor& Tensor::mul_(double c) {
  return scalar_inplace(*this, UnaryOp::MulScalar, c, "mul_", [](const Tensor& a, double v) { return a.mul(v); });
}
Tensor& Tensor::div_(double c) {
  return scalar_inplace(*this, UnaryOp::DivScalar, c, "div_", [](const Tensor& a, double v) { return a.div(v); });
}
Tensor& operator+=(Tensor& a, const Tensor& b) { return a.add_(b); }
Tensor& operator-=(Tensor& a, const Tensor& b) { return a.sub_(b); }
Tensor& operator*=(Tensor& a, const Tensor& b) { return a.mul_(b); }
Tensor& operator/=(Tensor& a, const Tensor& b) { return a.div_(b); }
Tensor& operator+=(Tensor& a, double b) { return a.add_(b); }
Tensor& operator-=(Tensor& a, double b) { return a.sub_(b); }
Tensor& operator*=(Tensor& a, double b) { return a.mul_(b); }
Tensor& operator/=(Tensor& a, double b) { return a.div_(b); }

// ---- in-place functions ---------------------------------------------------------------------------------------
namespace {

/// self = f(self) in place for a unary kernel op(p0, p1); `result` is the dtype f produces for self.
template <typename OutOfPlace>
Tensor& unary_inplace(Tensor& self, UnaryOp op, double p0, double p1, ScalarType result, const char* name,
                      Keep rule_keeps, OutOfPlace&& out_of_place) {
  detail::check_defined(self, name);
  check_no_overlap(self, name);
  TD_CHECK(can_cast(result, self.dtype()), name, ": the result type ", result, " cannot be written into a ",
           self.dtype(), " tensor in place");
  if (GradMode::is_enabled() && self.requires_grad()) {  // a rule that keeps the input needs its old values
    return detail::assign_inplace(self, out_of_place(rule_keeps == Keep::Input ? self.clone() : self), name);
  }
  detail::check_inplace(self, name);
  detail::backend_of(self).unary(op, detail::strided(self), detail::strided(self), p0, p1);
  detail::bump_version(self);
  return self;
}

/// The dtype of a floating function of x (integers and bool promote to float32).
ScalarType floating_type(const Tensor& x) { return is_floating(x.dtype()) ? x.dtype() : kFloat32; }

/// The dtype of an op that keeps integer dtypes, rejecting bool.
ScalarType integral_type(const Tensor& x, const char* name) {
  detail::check_defined(x, name);
  check_not_bool(x, name);
  return x.dtype();
}

/// Overwrites self with `values` (same shape and dtype, computed by the caller) when a graph is recorded: the
/// new values do not depend on the old ones, so the gradient flowing to self's previous history is zero.
Tensor& overwrite_recorded(Tensor& self, Tensor values, const char* name, const char* node_name) {
  if (auto node = make_node<UnaryBackward>(self)) {
    node->rule = zero_rule;
    node->label = node_name;
    set_history(values, node);
  }
  return detail::assign_inplace(self, values, name);
}

/// Fills self from the global Philox stream (the same draw as rand/randn of self's shape would make).
Tensor& random_inplace(Tensor& self, RandomKind kind, double p0, double p1, const char* name, const char* node_name) {
  detail::check_defined(self, name);
  TD_CHECK(is_floating(self.dtype()), name, ": expected a floating-point tensor, got ", self.dtype());
  check_no_overlap(self, name);
  if (kind == RandomKind::Uniform)
    TD_CHECK(std::isfinite(p0) && std::isfinite(p1) && p0 <= p1, name, ": expected finite from <= to, got from ", p0,
             " and to ", p1);
  else
    TD_CHECK(std::isfinite(p0) && std::isfinite(p1) && p1 >= 0, name, ": expected a finite mean and std >= 0, got mean ",
             p0, " and std ", p1);
  const bool records = GradMode::is_enabled() && self.requires_grad();
  if (!records) detail::check_inplace(self, name);
  Tensor target = !records && self.is_contiguous() ? self : detail::make_tensor(self.sizes(), self.dtype(), self.device());
  const uint64_t n = static_cast<uint64_t>(self.numel());
  const PhiloxState state = reserve_random_blocks(philox_blocks(n + (n & 1), element_size(self.dtype()) == 4 ? 4 : 8));
  if (n > 0) detail::backend_of(target).random(kind, detail::strided(target), state.seed, state.offset, p0, p1);
  if (records) return overwrite_recorded(self, target, name, node_name);
  if (!target.is_same(self)) detail::backend_of(self).copy(detail::strided(target), detail::strided(self));
  detail::bump_version(self);
  return self;
}

}  // namespace

Tensor& Tensor::pow_(double exponent) {
  detail::check_defined(*this, "pow_");
  const ScalarType result = pow_scalar_type(*this, exponent, "pow_");
  TD_CHECK(dtype() != kBool, "pow_: not supported for bool tensors");
  return unary_inplace(*this, UnaryOp::PowScalar, exponent, 0, result, "pow_", Keep::Input,
                       [exponent](const Tensor& x) { return tandem::pow(x, exponent); });
}
Tensor& Tensor::neg_() {
  return unary_inplace(*this, UnaryOp::Neg, 0, 0, integral_type(*this, "neg_"), "neg_", Keep::Nothing,
                       [](const Tensor& x) { return tandem::neg(x); });
}
Tensor& Tensor::exp_() {
  detail::check_defined(*this, "exp_");
  return unary_inplace(*this, UnaryOp::Exp, 0, 0, floating_type(*this), "exp_", Keep::Output,
                       [](const Tensor& x) { return tandem::exp(x); });
}
Tensor& Tensor::log_() {
  detail::check_defined(*this, "log_");
  return unary_inplace(*this, UnaryOp::Log, 0, 0, floating_type(*this), "log_", Keep::Input,
                       [](const Tensor& x) { return tandem::log(x); });
}
Tensor& Tensor::sqrt_() {
  detail::check_defined(*this, "sqrt_");
  return unary_inplace(*this, UnaryOp::Sqrt, 0, 0, floating_type(*this), "sqrt_", Keep::Output,
                       [](const Tensor& x) { return tandem::sqrt(x); });
}
Tensor& Tensor::abs_() {
  return unary_inplace(*this, UnaryOp::Abs, 0, 0, integral_type(*this, "abs_"), "abs_", Keep::Input,
                       [](const Tensor& x) { return tandem::abs(x); });
}
Tensor& Tensor::tanh_() {
  detail::check_defined(*this, "tanh_");
  return unary_inplace(*this, UnaryOp::Tanh, 0, 0, floating_type(*this), "tanh_", Keep::Output,
                       [](const Tensor& x) { return tandem::tanh(x); });
}
Tensor& Tensor::sigmoid_() {
  detail::check_defined(*this, "sigmoid_");
  return unary_inplace(*this, UnaryOp::Sigmoid, 0, 0, floating_type(*this), "sigmoid_", Keep::Output,
                       [](const Tensor& x) { return tandem::sigmoid(x); });
}
Tensor& Tensor::relu_() {
  return unary_inplace(*this, UnaryOp::Relu, 0, 0, integral_type(*this, "relu_"), "relu_", Keep::Output,
                       [](const Tensor& x) { return tandem::relu(x); });
}
Tensor& Tensor::clamp_(std::optional<double> min, std::optional<double> max) {
  const ScalarType self_type = integral_type(*this, "clamp_");
  TD_CHECK(min.has_value() || max.has_value(), "clamp_: at least one of min and max must be given");
  TD_CHECK(!(min && std::isnan(*min)) && !(max && std::isnan(*max)), "clamp_: the bounds must not be NaN");
  ScalarType result = self_type;
  if (min) result = promote_types(result, ops::scalar_result_type(*this, *min));
  if (max) result = promote_types(result, ops::scalar_result_type(*this, *max));
  return unary_inplace(*this, UnaryOp::Clamp, min.value_or(-std::numeric_limits<double>::infinity()),
                       max.value_or(std::numeric_limits<double>::infinity()), result, "clamp_", Keep::Input,
                       [min, max](const Tensor& x) { return tandem::clamp(x, min, max); });
}

Tensor& Tensor::masked_fill_(const Tensor& mask, double value) {
  check_mask(*this, mask, "masked_fill_");
  check_fill_value(*this, value, "masked_fill_");
  check_no_overlap(*this, "masked_fill_");
  if (GradMode::is_enabled() && requires_grad())
    return detail::assign_inplace(*this, tandem::masked_fill(*this, mask, value), "masked_fill_");
  detail::check_inplace(*this, "masked_fill_");
  const Dims& shape = sizes();
  Tensor fill = scalar_operand(value, dtype(), device());
  detail::backend_of(*this).where(detail::strided(mask, shape, detail::broadcast_strides(mask, shape)),
                                  detail::strided(fill, shape, Dims(shape.size(), 0)), detail::strided(*this),
                                  detail::strided(*this));
  detail::bump_version(*this);
  return *this;
}

Tensor& Tensor::fill_(double value) {
  detail::check_defined(*this, "fill_");
  check_fill_value(*this, value, "fill_");
  check_no_overlap(*this, "fill_");
  if (GradMode::is_enabled() && requires_grad()) {
    Tensor values = detail::make_tensor(sizes(), dtype(), device());
    detail::backend_of(values).fill(detail::strided(values), value);
    return overwrite_recorded(*this, values, "fill_", "FillBackward");
  }
  detail::check_inplace(*this, "fill_");
  detail::backend_of(*this).fill(detail::strided(*this), value);
  detail::bump_version(*this);
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0); }

Tensor& Tensor::uniform_(double from, double to) {
  return random_inplace(*this, RandomKind::Uniform, from, to, "uniform_", "UniformBackward");
}
Tensor& Tensor::normal_(double mean, double std) {
  return random_inplace(*this, RandomKind::Normal, mean, std, "normal_", "NormalBackward");
}

}  // namespace tandem
