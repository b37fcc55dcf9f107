// mgda: the min-norm point of the convex hull of the (optionally normalised) task gradients.
#include "mtl/weighting/mgda.h"

#include <cmath>

namespace tandem::mtl {

namespace {
MGDA::Normalization parse_normalization(const std::string& text) {
  if (text == "none") return MGDA::Normalization::kNone;
  if (text == "l2") return MGDA::Normalization::kL2;
  if (text == "loss") return MGDA::Normalization::kLoss;
  if (text == "loss+l2") return MGDA::Normalization::kLossL2;
  TD_CHECK(false, "mgda: unknown normalization '", text, "' (expected none, l2, loss or loss+l2)");
  return MGDA::Normalization::kNone;
}
SharedScope checked_scope(const WeightingOptions& options) {
  options.check_known("mgda", {"normalization", "scope"});
  return parse_scope(options.text("scope", "params"));
}
}  // namespace

MGDA::MGDA(size_t num_tasks, const WeightingOptions& options)
    : GradientWeighting("mgda", num_tasks, checked_scope(options)),
      normalization_(parse_normalization(options.text("normalization", "none"))) {}

std::vector<double> MGDA::min_norm_weights(const linalg::Matrix& gramian) {
  // The weights do not depend on the scale of K: solve on K / trace so that the tolerance is relative.
  const double tr = linalg::trace(gramian);
  linalg::Matrix k = gramian;
  if (tr > 0.0)
    for (size_t i = 0; i < k.rows(); ++i)
      for (size_t j = 0; j < k.cols(); ++j) k(i, j) /= tr;
  return linalg::min_quadratic_on_simplex(k);
}

GradientCombination MGDA::combine(const GradientInputs& inputs) {
  const linalg::Matrix k = linalg::Matrix::from_tensor(inputs.gramian);
  const size_t T = k.rows();
  std::vector<double> norm(T, 1.0);
  for (size_t t = 0; t < T; ++t) {
    const double gradient_norm = std::sqrt(std::max(k(t, t), 0.0));
    const bool by_loss = normalization_ == Normalization::kLoss || normalization_ == Normalization::kLossL2;
    const bool by_l2 = normalization_ == Normalization::kL2 || normalization_ == Normalization::kLossL2;
    if (by_loss) {
      TD_CHECK(inputs.losses[t] > 0.0 && std::isfinite(inputs.losses[t]), "mgda: normalization=",
               normalization_ == Normalization::kLoss ? "loss" : "loss+l2", " needs positive losses, but task ", t,
               " has loss ", inputs.losses[t]);
      norm[t] *= inputs.losses[t];
    }
    // A zero gradient stays zero (dividing it by 1).
    if (by_l2 && gradient_norm > 0.0) norm[t] *= gradient_norm;
  }
  std::vector<double> inverse(T);
  for (size_t t = 0; t < T; ++t) inverse[t] = 1.0 / norm[t];
  const std::vector<double> gamma = min_norm_weights(linalg::scale_symmetric(k, inverse));
  GradientCombination result;
  result.weights.resize(T);
  for (size_t t = 0; t < T; ++t) result.weights[t] = gamma[t] * inverse[t];
  return result;
}

}  // namespace tandem::mtl
