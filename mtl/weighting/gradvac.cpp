// gradvac: per-group adaptive alignment of the task gradients, on each group's Gramian.
#include "mtl/weighting/gradvac.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::mtl {

namespace {
SharedScope checked_scope(const WeightingOptions& options) {
  options.check_known("gradvac", {"beta", "scope"});
  return parse_scope(options.text("scope", "params"));
}
}  // namespace

GradVac::GradVac(size_t num_tasks, const WeightingOptions& options)
    : GradientWeighting("gradvac", num_tasks, checked_scope(options)), beta_(options.number("gradvac", "beta", 0.5)) {
  TD_CHECK(beta_ >= 0.0 && beta_ <= 1.0, "gradvac: beta must be in [0, 1], got ", beta_);
  targets_ = register_buffer("targets", zeros({0}, kFloat64));
}

linalg::Matrix GradVac::group_coefficients(const linalg::Matrix& gramian, std::vector<double>& targets, double beta,
                                           const std::vector<std::vector<size_t>>& orders) {
  const size_t T = gramian.rows();
  TD_CHECK(gramian.cols() == T && targets.size() == T * T && orders.size() == T, "gradvac: a [", T, ", ",
           gramian.cols(), "] Gramian with ", targets.size(), " targets and ", orders.size(), " orders");
  linalg::Matrix coefficients = linalg::Matrix::identity(T);
  for (size_t i = 0; i < T; ++i) {
    std::vector<double> c(T, 0.0);  // g'_i = Σ_k c[k] g_k
    c[i] = 1.0;
    for (size_t j : orders[i]) {
      TD_CHECK(j < T, "gradvac: task ", j, " in the order of task ", i, " is out of range for ", T, " tasks");
      if (j == i) continue;
      const std::vector<double> kc = linalg::matvec(gramian, c);
      const double norm_i = std::sqrt(std::max(linalg::dot(c, kc), 0.0));
      const double norm_j = std::sqrt(std::max(gramian(j, j), 0.0));
      if (!(norm_i > 0.0) || !(norm_j > 0.0)) continue;  // a zero gradient has no direction to align
      const double rho = std::clamp(kc[j] / (norm_i * norm_j), -1.0, 1.0);
      double& target = targets[i * T + j];
      const double room = std::sqrt(std::max(1.0 - target * target, 0.0));
      // With a target of ±1 the correction is unbounded: the pair is left as it is.
      if (rho < target && room > 1e-12)
        c[j] += norm_i * (target * std::sqrt(std::max(1.0 - rho * rho, 0.0)) - rho * room) / (norm_j * room);
      target = (1.0 - beta) * target + beta * rho;
    }
    for (size_t k = 0; k < T; ++k) coefficients(i, k) = c[k];
  }
  return coefficients;
}

GradientCombination GradVac::combine(const GradientInputs& inputs) {
  const TaskGradients& gradients = inputs.gradients;
  const size_t T = num_tasks();
  const auto T64 = static_cast<int64_t>(T);
  std::vector<std::pair<int64_t, int64_t>> groups;  // column ranges [begin, end)
  if (scope() == SharedScope::kParameters) {
    const auto& offsets = gradients.offsets();
    for (size_t b = 0; b + 1 < offsets.size(); ++b) groups.emplace_back(offsets[b], offsets[b + 1]);
  } else {
    groups.emplace_back(inputs.scope_begin, inputs.scope_end);
  }
  const auto G = static_cast<int64_t>(groups.size());
  if (targets_.numel() == 0) nn::set_data(targets_, zeros({G, T64, T64}, kFloat64));
  TD_CHECK(targets_.sizes() == Dims({G, T64, T64}), "gradvac: the targets buffer has shape ", targets_.sizes(),
           " but this model has ", G, " gradient groups for ", T, " tasks (expected [", G, ", ", T, ", ", T, "])");
  std::vector<double> all_targets = targets_.detach().to(kCPU).to(kFloat64).contiguous().to_vector<double>();

  std::vector<std::vector<double>> group_weights;
  for (int64_t g = 0; g < G; ++g) {
    const auto [begin, end] = groups[static_cast<size_t>(g)];
    const linalg::Matrix k =
        groups.size() == 1 && begin == inputs.scope_begin && end == inputs.scope_end
            ? linalg::Matrix::from_tensor(inputs.gramian)
            : linalg::Matrix::from_tensor(gradients.gramian(begin, end));
    std::vector<std::vector<size_t>> orders(T);
    for (size_t i = 0; i < T; ++i)
      for (int64_t j : randperm(T64).to_vector<int64_t>()) orders[i].push_back(static_cast<size_t>(j));
    std::vector<double> targets(all_targets.begin() + g * T64 * T64, all_targets.begin() + (g + 1) * T64 * T64);
    const linalg::Matrix c = group_coefficients(k, targets, beta_, orders);
    std::copy(targets.begin(), targets.end(), all_targets.begin() + g * T64 * T64);
    std::vector<double> alpha(T, 0.0);
    for (size_t i = 0; i < T; ++i)
      for (size_t j = 0; j < T; ++j) alpha[j] += c(i, j);
    group_weights.push_back(std::move(alpha));
  }
  {
    NoGradGuard no_grad;
    targets_.copy_(tensor(all_targets, TensorOptions(kFloat64)).view({G, T64, T64}).to(targets_.device()));
  }

  GradientCombination result;
  result.weights.assign(T, 0.0);
  for (const auto& alpha : group_weights)
    for (size_t t = 0; t < T; ++t) result.weights[t] += alpha[t] / static_cast<double>(G);
  if (scope() != SharedScope::kParameters) return result;  // one group: its weights apply to every column

  // Per-parameter groups: each block of the update is its own combination of the block's gradients.
  NoGradGuard no_grad;
  const Tensor& matrix = gradients.matrix();
  std::vector<Tensor> blocks;
  for (int64_t g = 0; g < G; ++g) {
    const auto [begin, end] = groups[static_cast<size_t>(g)];
    const Tensor alpha = tensor(group_weights[static_cast<size_t>(g)], TensorOptions(kFloat64))
                             .to(matrix.device(), matrix.dtype());
    blocks.push_back(alpha.unsqueeze(0).matmul(matrix.narrow(1, begin, end - begin)).reshape({end - begin}));
  }
  result.direction = cat(blocks, 0);
  return result;
}

}  // namespace tandem::mtl
