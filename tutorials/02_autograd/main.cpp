// Tutorial 02: reverse-mode autograd. The graph (grad_fn, next_edges), backward, accumulation, retain_graph,
// a derivative by finite differences compared with backward, autograd::grad for per-task gradients,
// create_graph for second derivatives, NoGradGuard and hooks. Every claim in README.md is checked here.
#include <tandem.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

namespace td = tandem;
using td::autograd::variable_list;

namespace {

int failures = 0;

void check(bool ok, const std::string& claim) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", claim.c_str());
  if (!ok) ++failures;
}

bool near(const td::Tensor& a, const td::Tensor& b, double tol = 1e-9) {
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (std::abs(x[i] - y[i]) > tol) return false;
  return true;
}

/// Prints the backward graph below `node`, one node per line.
void print_graph(const std::shared_ptr<td::autograd::Node>& node, int depth = 1) {
  std::printf("%*s%s\n", 2 * depth, "", node->name().c_str());
  for (const td::autograd::Edge& edge : node->next_edges)
    if (edge.valid()) print_graph(edge.function, depth + 1);
}

void the_graph() {
  std::printf("\n1. Ops record a graph\n");
  td::Tensor x = td::tensor({1.0, 2.0, 3.0}, td::requires_grad());
  td::Tensor w = td::tensor({0.5, -1.0, 2.0}, td::requires_grad());
  td::Tensor y = x * w;
  td::Tensor z = y.sum();
  std::printf("  the graph below z:\n");
  print_graph(z.grad_fn());
  check(x.is_leaf() && x.grad_fn() == nullptr, "x is a leaf: created by the user, no grad_fn");
  check(z.grad_fn()->name() == "SumBackward" && y.grad_fn()->name() == "MulBackward",
        "z.grad_fn() is SumBackward, y.grad_fn() is MulBackward");
  const auto& edges = y.grad_fn()->next_edges;
  check(edges.size() == 2 && edges[0].function->name() == "AccumulateGrad",
        "MulBackward has one edge per input, ending in AccumulateGrad for leaves");

  std::printf("\n2. backward() fills .grad of the leaves\n");
  z.backward();
  std::cout << "  x.grad() = " << x.grad() << "\n";
  check(near(x.grad(), w) && near(w.grad(), x), "d(sum x*w)/dx = w and d/dw = x");
}

void accumulation_and_retain_graph() {
  std::printf("\n3. Gradients accumulate; graphs are freed by backward\n");
  td::Tensor x = td::tensor({1.0, 2.0}, td::requires_grad());
  (x * 3).sum().backward();
  (x * 3).sum().backward();
  check(near(x.grad(), td::tensor({6.0, 6.0})), "two backward calls add up: 3 + 3");
  x.set_grad(td::Tensor());
  check(!x.grad().defined(), "set_grad(Tensor()) clears it (what optimizers' zero_grad does)");

  td::Tensor y = (x * x).sum();
  y.backward(td::Tensor(), /*retain_graph=*/true);
  y.backward();
  check(near(x.grad(), td::tensor({4.0, 8.0})), "retain_graph=true keeps the graph for a second backward");
  try {
    y.backward();
    check(false, "a third backward through a freed graph throws");
  } catch (const td::Error& e) {
    std::printf("  third backward: %s\n", e.what());
    check(true, "a third backward through a freed graph throws");
  }
}

void finite_differences() {
  std::printf("\n4. backward agrees with a derivative by finite differences\n");
  auto f = [](const td::Tensor& x) { return (x.tanh() * x).sum(); };
  td::Tensor x = td::tensor({-1.5, 0.3, 2.0}, td::requires_grad());
  f(x).backward();
  std::vector<double> numeric(3);
  const double eps = 1e-6;
  for (int64_t i = 0; i < 3; ++i) {
    td::Tensor plus = x.detach().clone(), minus = x.detach().clone();
    plus.data_ptr<double>()[i] += eps;
    minus.data_ptr<double>()[i] -= eps;
    numeric[static_cast<size_t>(i)] = (f(plus).item<double>() - f(minus).item<double>()) / (2 * eps);
  }
  std::cout << "  backward: " << x.grad() << "\n  numeric:  " << td::tensor(numeric) << "\n";
  check(near(x.grad(), td::tensor(numeric), 1e-6), "(f(x+eps) - f(x-eps)) / 2eps matches x.grad()");
  check(td::autograd::gradcheck([&](const variable_list& in) { return f(in[0]); },
                                {td::randn({4}, td::TensorOptions(td::kFloat64).requires_grad(true))}),
        "autograd::gradcheck does the same for every element");
}

void per_task_gradients() {
  std::printf("\n5. autograd::grad: per-task gradients of shared weights\n");
  td::manual_seed(0);
  td::Tensor shared = td::randn({4, 3}, td::TensorOptions(td::kFloat64).requires_grad(true));
  td::Tensor x = td::randn({8, 4}, td::kFloat64);
  td::Tensor features = x.matmul(shared).tanh();
  td::Tensor loss_a = features.select(1, 0).square().mean();
  td::Tensor loss_b = (features.select(1, 1) - 1).square().mean();
  td::Tensor grad_a = td::autograd::grad({loss_a}, {shared}, {}, /*retain_graph=*/true)[0];
  td::Tensor grad_b = td::autograd::grad({loss_b}, {shared}, {}, /*retain_graph=*/true)[0];
  const double cosine =
      (grad_a * grad_b).sum().item<double>() / (grad_a.norm().item<double>() * grad_b.norm().item<double>());
  std::printf("  cosine similarity of the two tasks' gradients: %+.4f\n", cosine);
  check(!shared.grad().defined(), "autograd::grad returns gradients without touching .grad");
  (loss_a + loss_b).backward();
  check(near(shared.grad(), grad_a + grad_b), "the gradient of the summed loss is the sum of the task gradients");
}

void second_derivatives() {
  std::printf("\n6. create_graph: gradients of gradients\n");
  td::Tensor x = td::scalar_tensor(2.0, td::TensorOptions(td::kFloat64).requires_grad(true));
  td::Tensor y = x * x * x;
  td::Tensor dy = td::autograd::grad({y}, {x}, {}, std::nullopt, /*create_graph=*/true)[0];
  td::Tensor d2y = td::autograd::grad({dy}, {x})[0];
  std::printf("  y = x^3 at x = 2: dy/dx = %.1f, d2y/dx2 = %.1f\n", dy.item<double>(), d2y.item<double>());
  check(dy.item<double>() == 12.0 && d2y.item<double>() == 12.0, "dy/dx = 3x^2 = 12 and d2y/dx2 = 6x = 12");
}

void no_grad() {
  std::printf("\n7. NoGradGuard\n");
  td::Tensor w = td::randn({3}, td::requires_grad());
  {
    td::NoGradGuard no_grad;
    td::Tensor y = w * 2;
    check(!y.requires_grad() && y.grad_fn() == nullptr, "under NoGradGuard nothing is recorded");
    w.sub_(td::ones({3}), 0.1);  // an optimizer step: in place on a leaf, allowed without recording
  }
  check((w * 2).requires_grad(), "recording resumes at the end of the scope");
}

void hooks() {
  std::printf("\n8. Hooks\n");
  td::Tensor x = td::tensor({1.0, -2.0}, td::requires_grad());
  td::Tensor h = x * 3;
  std::vector<double> seen;
  h.register_hook([&](const td::Tensor& g) {
    seen = g.to_vector<double>();
    return td::Tensor();  // undefined: leave the gradient as it is
  });
  const size_t clip = x.register_hook([](const td::Tensor& g) { return g.clamp(-1, 1); });
  (h * h).sum().backward();  // dh = 2h = [6, -12], dx = 3 dh = [18, -36], clipped to [1, -1]
  check(seen == std::vector<double>{6, -12}, "a hook on a non-leaf observes the gradient flowing through it");
  check(near(x.grad(), td::tensor({1.0, -1.0})), "a hook on a leaf may replace its gradient (here: clipping)");
  x.remove_hook(clip);
  x.set_grad(td::Tensor());
  (x * 3).sum().backward();
  check(near(x.grad(), td::tensor({3.0, 3.0})), "remove_hook(handle) takes it away");
}

}  // namespace

int main() {
  std::printf("tandem tutorial 02: autograd\n");
  the_graph();
  accumulation_and_retain_graph();
  finite_differences();
  per_task_gradients();
  second_derivatives();
  no_grad();
  hooks();
  std::printf("\n%s (%d failed checks)\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED", failures);
  return failures == 0 ? 0 : 1;
}
