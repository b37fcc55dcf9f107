// Tutorial 03: a new differentiable op written as a custom autograd::Function. A numerically stable softplus
// with a `beta` parameter (forward, backward, save_for_backward, saved_data), checked with gradcheck and
// gradgradcheck; then a clamp with a straight-through gradient, where gradcheck rightly objects. Every claim in
// README.md is checked here.
#include <tandem.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

namespace td = tandem;
using td::autograd::AutogradContext;
using td::autograd::variable_list;

namespace {

int failures = 0;

void check(bool ok, const std::string& claim) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", claim.c_str());
  if (!ok) ++failures;
}

/// softplus_beta(x) = log(1 + exp(beta x)) / beta, computed as (max(z, 0) + log1p(exp(-|z|))) / beta with
/// z = beta x, which never overflows. Its derivative is sigmoid(beta x).
struct StableSoftplus : td::autograd::Function<StableSoftplus> {
  static td::Tensor forward(AutogradContext* ctx, td::Tensor x, double beta) {
    ctx->save_for_backward({x});
    ctx->saved_data["beta"] = beta;
    td::Tensor z = x * beta;
    return (z.clamp_min(0) + z.abs().neg().exp().log1p()) / beta;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    td::Tensor x = ctx->get_saved_variables()[0];
    const double beta = ctx->saved_data["beta"].toDouble();
    td::Tensor grad_x = grad_outputs[0] * (x * beta).sigmoid();
    return {grad_x, td::Tensor()};  // one per forward argument: none for beta
  }
};

/// clamp(x, lo, hi) whose backward pretends the clamp was not there (a straight-through estimator).
struct StraightThroughClamp : td::autograd::Function<StraightThroughClamp> {
  static td::Tensor forward(AutogradContext*, td::Tensor x, double lo, double hi) { return x.clamp(lo, hi); }
  static variable_list backward(AutogradContext*, variable_list grad_outputs) {
    return {grad_outputs[0], td::Tensor(), td::Tensor()};
  }
};

void softplus() {
  std::printf("\n1. A stable softplus as a custom Function\n");
  td::Tensor x = td::tensor({-3.0, 0.0, 2.0}, td::requires_grad());
  td::Tensor y = StableSoftplus::apply(x, 1.0);
  std::cout << "  softplus(x) = " << y << "\n";
  const std::vector<double> v = y.to_vector<double>();
  check(std::abs(v[1] - std::log(2.0)) < 1e-12 && std::abs(v[2] - std::log1p(std::exp(2.0))) < 1e-12,
        "values: softplus(0) = log 2, softplus(2) = log(1 + e^2)");
  y.sum().backward();
  const std::vector<double> g = x.grad().to_vector<double>();
  check(std::abs(g[1] - 0.5) < 1e-12 && std::abs(g[2] - 1 / (1 + std::exp(-2.0))) < 1e-12,
        "backward gives sigmoid(x): 0.5 at 0");
  check(y.grad_fn() != nullptr, "the output is attached to the graph through the Function's node");

  td::Tensor big = td::tensor({100.f, -100.f});
  td::Tensor naive = (big.exp() + 1).log();
  td::Tensor stable = StableSoftplus::apply(big, 1.0);
  std::cout << "  at [100, -100] in float32: naive " << naive << ", stable " << stable << "\n";
  check(std::isinf(naive.to_vector<float>()[0]), "the naive log(1 + exp(x)) overflows at x = 100 in float32");
  const std::vector<float> s = stable.to_vector<float>();
  check(s[0] == 100.f && s[1] >= 0.f && s[1] < 1e-40f, "the stable form gives 100 and e^-100 (about 4e-44)");
}

void checking_it() {
  std::printf("\n2. gradcheck and gradgradcheck\n");
  td::manual_seed(0);
  const td::TensorOptions f64 = td::TensorOptions(td::kFloat64).requires_grad(true);
  td::Tensor x = td::randn({3, 4}, f64) * 3;
  x = x.detach().requires_grad_(true);
  auto op = [](const variable_list& in) { return StableSoftplus::apply(in[0], 2.0); };
  check(td::autograd::gradcheck(op, {x}), "gradcheck: backward matches finite differences");
  check(td::autograd::gradgradcheck(op, {x}), "gradgradcheck: backward is itself differentiable");
  td::Tensor xt = td::randn({4, 3}, td::kFloat64).t().requires_grad_(true);
  check(td::autograd::gradcheck(op, {xt}), "...also on a non-contiguous (transposed) input");
  td::Tensor reference = td::softplus(x.detach(), 2.0);
  check(td::allclose(StableSoftplus::apply(x.detach(), 2.0), reference, 1e-6, 1e-8),
        "it agrees with the built-in td::softplus");
}

void straight_through() {
  std::printf("\n3. A straight-through clamp: a deliberate 'wrong' gradient\n");
  td::Tensor x = td::tensor({-2.0, 0.5, 3.0}, td::requires_grad());
  td::Tensor y = StraightThroughClamp::apply(x, -1.0, 1.0);
  y.sum().backward();
  check(y.to_vector<double>() == std::vector<double>{-1, 0.5, 1}, "forward clamps to [-1, 1]");
  check(x.grad().to_vector<double>() == std::vector<double>{1, 1, 1}, "backward lets the gradient through unchanged");

  td::autograd::GradcheckOptions quiet;
  quiet.raise_exception = false;
  auto op = [](const variable_list& in) { return StraightThroughClamp::apply(in[0], -1.0, 1.0); };
  td::Tensor inside = td::tensor({-0.5, 0.2, 0.7}, td::TensorOptions(td::kFloat64).requires_grad(true));
  td::Tensor outside = td::tensor({-2.0, 0.2, 3.0}, td::TensorOptions(td::kFloat64).requires_grad(true));
  check(td::autograd::gradcheck(op, {inside}, quiet), "inside [-1, 1] it is the true gradient: gradcheck passes");
  check(!td::autograd::gradcheck(op, {outside}, quiet),
        "outside, the true gradient is 0: gradcheck reports the mismatch, as it should");
}

}  // namespace

int main() {
  std::printf("tandem tutorial 03: a custom op\n");
  softplus();
  checking_it();
  straight_through();
  std::printf("\n%s (%d failed checks)\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED", failures);
  return failures == 0 ? 0 : 1;
}
