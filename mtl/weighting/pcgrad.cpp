// pcgrad: conflicting gradients projected on each other's normal planes, on the Gramian.
#include "mtl/weighting/pcgrad.h"

#include "tensor/functions.h"

namespace tandem::mtl {

namespace {
SharedScope checked_scope(const WeightingOptions& options) {
  options.check_known("pcgrad", {"scope"});
  return parse_scope(options.text("scope", "params"));
}
}  // namespace

PCGrad::PCGrad(size_t num_tasks, const WeightingOptions& options)
    : GradientWeighting("pcgrad", num_tasks, checked_scope(options)) {}

std::vector<double> PCGrad::weights(const linalg::Matrix& gramian, const std::vector<std::vector<size_t>>& orders) {
  const size_t T = gramian.rows();
  TD_CHECK(gramian.cols() == T && orders.size() == T, "pcgrad: ", orders.size(), " orders for a [", T, ", ",
           gramian.cols(), "] Gramian");
  std::vector<double> alpha(T, 0.0);
  for (size_t i = 0; i < T; ++i) {
    std::vector<double> c(T, 0.0);  // g'_i = Σ_k c[k] g_k
    c[i] = 1.0;
    for (size_t j : orders[i]) {
      TD_CHECK(j < T, "pcgrad: task ", j, " in the order of task ", i, " is out of range for ", T, " tasks");
      if (j == i || !(gramian(j, j) > 0.0)) continue;
      double projection = 0.0;  // g'_i · g_j
      for (size_t k = 0; k < T; ++k) projection += c[k] * gramian(k, j);
      if (projection < 0.0) c[j] -= projection / gramian(j, j);
    }
    for (size_t k = 0; k < T; ++k) alpha[k] += c[k];
  }
  return alpha;
}

GradientCombination PCGrad::combine(const GradientInputs& inputs) {
  const linalg::Matrix k = linalg::Matrix::from_tensor(inputs.gramian);
  const size_t T = k.rows();
  std::vector<std::vector<size_t>> orders(T);
  for (size_t i = 0; i < T; ++i)
    for (int64_t j : randperm(static_cast<int64_t>(T)).to_vector<int64_t>()) orders[i].push_back(static_cast<size_t>(j));
  return {weights(k, orders), Tensor()};
}

}  // namespace tandem::mtl
