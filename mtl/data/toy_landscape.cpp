// The CAGrad toy problem as a two-task model, and the Adam loop that traces a method's path on it.
#include "mtl/data/toy_landscape.h"

#include <cmath>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "mtl/weighting/small_linalg.h"
#include "nn/optim/adam.h"
#include "tensor/functions.h"

namespace tandem::mtl {

namespace {
/// The floor under the arguments of the logarithms.
constexpr double kLogFloor = 5e-6;
}  // namespace

ToyLandscapeImpl::ToyLandscapeImpl(double x, double y) : MultiTaskModel({"f1", "f2"}) {
  theta = register_parameter("theta", tensor(std::vector<double>{x, y}, TensorOptions(kFloat64)));
}

std::array<Tensor, 2> ToyLandscapeImpl::losses(const Tensor& theta) {
  TD_CHECK(theta.defined() && theta.dim() == 1 && theta.size(0) == 2, "ToyLandscape: θ must have shape [2], got ",
           theta.defined() ? theta.sizes() : Dims{});
  const Tensor x = theta.select(0, 0), y = theta.select(0, 1);
  const Tensor tanh_neg_y = (-y).tanh();
  const Tensor h1 = ((-x - 7.0) * 0.5 - tanh_neg_y).abs().clamp_min(kLogFloor).log() + 6.0;
  const Tensor h2 = ((-x + 3.0) * 0.5 + tanh_neg_y + 2.0).abs().clamp_min(kLogFloor).log() + 6.0;
  const Tensor q1 = ((-x + 7.0).square() + (-y - 8.0).square() * 0.1) / 10.0 - 20.0;
  const Tensor q2 = ((-x - 7.0).square() + (-y - 8.0).square() * 0.1) / 10.0 - 20.0;
  const Tensor c1 = (y * 0.5).tanh().clamp_min(0.0), c2 = (-y * 0.5).tanh().clamp_min(0.0);
  return {c1 * h1 + c2 * q1, c1 * h2 + c2 * q2};
}

std::vector<Tensor> ToyLandscapeImpl::forward(const Tensor& /*input*/) {
  auto [l1, l2] = losses(theta);
  return {l1, l2};
}

std::vector<Tensor> ToyLandscapeImpl::task_parameters(size_t task) const {
  TD_CHECK(task < 2, "ToyLandscape: task ", task, " out of range for 2 tasks");
  return {};
}

std::array<double, 2> ToyLandscapeImpl::losses_at(double x, double y) {
  NoGradGuard no_grad;
  auto [l1, l2] = losses(tensor(std::vector<double>{x, y}, TensorOptions(kFloat64)));
  return {l1.item<double>(), l2.item<double>()};
}

std::array<std::array<double, 2>, 2> ToyLandscapeImpl::gradients_at(double x, double y) {
  Tensor point = tensor(std::vector<double>{x, y}, TensorOptions(kFloat64).requires_grad(true));
  auto [l1, l2] = losses(point);
  std::array<std::array<double, 2>, 2> result{};
  const std::array<Tensor, 2> both = {l1, l2};
  for (size_t t = 0; t < 2; ++t) {
    const auto g = autograd::grad({both[t]}, {point}, {}, /*retain_graph=*/true)[0].to_vector<double>();
    result[t] = {g[0], g[1]};
  }
  return result;
}

std::vector<std::array<double, 2>> toy_landscape_starts() { return {{-8.5, 7.5}, {-8.5, -5.0}, {9.0, 9.0}}; }

ToyTrajectory run_toy_landscape(Weighting& weighting, std::array<double, 2> start, int64_t steps, double lr,
                                int64_t record_every) {
  TD_CHECK(weighting.num_tasks() == 2, "run_toy_landscape: the toy problem has 2 tasks but ", weighting.method(),
           " was made for ", weighting.num_tasks());
  TD_CHECK(steps >= 0 && record_every >= 1, "run_toy_landscape: steps = ", steps, " and record_every = ", record_every,
           " (need steps >= 0, record_every >= 1)");
  ToyLandscape model(start[0], start[1]);
  std::vector<Tensor> parameters = model->parameters();
  for (const Tensor& p : weighting.parameters())
    if (p.requires_grad()) parameters.push_back(p);
  optim::Adam adam(parameters, optim::AdamOptions(lr));
  ToyTrajectory trajectory;
  auto record = [&] {
    const auto p = model->theta.detach().to_vector<double>();
    trajectory.points.push_back({p[0], p[1]});
    trajectory.losses.push_back(ToyLandscapeImpl::losses_at(p[0], p[1]));
  };
  record();
  const Tensor no_input;
  for (int64_t step = 0; step < steps; ++step) {
    adam.zero_grad();
    ForwardResult forward = forward_for(weighting, *model, no_input);
    StepContext context(*model, forward.outputs, forward.representation, forward.representation_leaf);
    context.step = step;
    weighting.backward(context);
    adam.step();
    weighting.after_step();
    if ((step + 1) % record_every == 0 || step + 1 == steps) record();
  }
  return trajectory;
}

double toy_landscape_stationarity(double x, double y) {
  const auto g = ToyLandscapeImpl::gradients_at(x, y);
  const double k11 = g[0][0] * g[0][0] + g[0][1] * g[0][1];
  const double k12 = g[0][0] * g[1][0] + g[0][1] * g[1][1];
  const double k22 = g[1][0] * g[1][0] + g[1][1] * g[1][1];
  const double gamma = linalg::min_norm_two(k11, k12, k22);
  const double gx = gamma * g[0][0] + (1.0 - gamma) * g[1][0], gy = gamma * g[0][1] + (1.0 - gamma) * g[1][1];
  return std::sqrt(gx * gx + gy * gy);
}

}  // namespace tandem::mtl
