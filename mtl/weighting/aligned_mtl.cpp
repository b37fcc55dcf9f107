// aligned_mtl: the eigendecomposition of the Gramian and the alignment matrix B.
#include "mtl/weighting/aligned_mtl.h"

#include <cmath>
#include <limits>

namespace tandem::mtl {

namespace {
SharedScope checked_scope(const WeightingOptions& options) {
  options.check_known("aligned_mtl", {"scope"});
  return parse_scope(options.text("scope", "params"));
}
}  // namespace

AlignedMTL::AlignedMTL(size_t num_tasks, const WeightingOptions& options)
    : GradientWeighting("aligned_mtl", num_tasks, checked_scope(options)) {}

linalg::Matrix AlignedMTL::alignment_matrix(const linalg::Matrix& gramian, double relative_tolerance) {
  const size_t T = gramian.rows();
  const linalg::SymmetricEigen eigen = linalg::symmetric_eigen(gramian);
  linalg::Matrix b(T, T);
  const double largest = eigen.values.empty() ? 0.0 : eigen.values.back();
  if (!(largest > 0.0)) return b;  // every gradient is zero
  const double cutoff = relative_tolerance * largest * static_cast<double>(T);
  double smallest_kept = largest;
  for (double lambda : eigen.values)
    if (lambda > cutoff) smallest_kept = std::min(smallest_kept, lambda);
  for (size_t k = 0; k < T; ++k) {
    const double lambda = eigen.values[k];
    if (!(lambda > cutoff)) continue;
    const double scale = std::sqrt(smallest_kept / lambda);
    for (size_t i = 0; i < T; ++i)
      for (size_t j = 0; j < T; ++j) b(i, j) += scale * eigen.vectors(i, k) * eigen.vectors(j, k);
  }
  return b;
}

GradientCombination AlignedMTL::combine(const GradientInputs& inputs) {
  // The Gramian inherits the rounding of the gradients: eigenvalues within their precision of zero are zero.
  const double precision = inputs.gradients.matrix().dtype() == kFloat64 ? std::numeric_limits<double>::epsilon()
                                                                         : std::numeric_limits<float>::epsilon();
  const linalg::Matrix b = alignment_matrix(linalg::Matrix::from_tensor(inputs.gramian), precision);
  const size_t T = b.rows();
  GradientCombination result;
  result.weights.assign(T, 0.0);
  for (size_t i = 0; i < T; ++i)
    for (size_t k = 0; k < T; ++k) result.weights[k] += b(i, k);
  return result;
}

}  // namespace tandem::mtl
