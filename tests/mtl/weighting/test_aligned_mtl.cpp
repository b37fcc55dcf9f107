// aligned_mtl: the alignment matrix from the eigendecomposition of the Gramian — aligned components of equal
// norms, the three pairs by hand, the rank-deficient cases — and every scope end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "mtl/weighting/aligned_mtl.h"
#include "tests/mtl/weighting/gradient_method_fixtures.h"

namespace {

using namespace tandem;
using namespace tandem::mtl;
using namespace tandem::mtl::testing;

constexpr double kEps = std::numeric_limits<double>::epsilon();

TEST(AlignedMTL, HandCheckedPairs) {
  AlignedMTL aligned(2);
  // Orthogonal g1 = (1, 0), g2 = (0, 2): λ = (1, 4), B = diag(1, 1/2): the aligned gradients (1, 0) and
  // (0, 1) have equal norms, α = (1, 1/2), d = (1, 1).
  expect_vector_near(probe_update(aligned, kOrthogonal), {1.0, 1.0}, 1e-12);
  // Identical: rank 1, B = v vᵀ with v = (1, 1)/√2, α = (1, 1): d = 2g.
  expect_vector_near(probe_update(aligned, kIdentical), {2.0, 4.0}, 1e-12);
  // Opposite with equal norms: v = (1, −1)/√2 is orthogonal to 𝟙, α = 0.
  expect_vector_near(probe_update(aligned, kOpposite), {0.0, 0.0}, 1e-12);
  // g2 = −2 g1: v = (1, −2)/√5, α = v (vᵀ𝟙) = (−1/5, 2/5), d = −g1/5 − 4g1/5 = −g1.
  expect_vector_near(probe_update(aligned, {{1.0, 0.0}, {-2.0, 0.0}}), {-1.0, 0.0}, 1e-12);
}

TEST(AlignedMTL, AlignedComponentsHaveEqualNorms) {
  for (unsigned seed = 0; seed < 8; ++seed) {
    manual_seed(seed);
    const auto T = static_cast<int64_t>(2 + seed % 4);
    // Gradients of very different scales: conditioning is what the method repairs.
    const Tensor g = randn({T, 7}, TensorOptions(kFloat64)) * arange(1.0, static_cast<double>(T) + 1.0, 1.0,
                                                                       TensorOptions(kFloat64)).pow(2.0).unsqueeze(1);
    std::vector<Tensor> rows;
    for (int64_t t = 0; t < T; ++t) rows.push_back(g[t]);
    const linalg::Matrix k = gramian_of(rows);
    const linalg::Matrix b = AlignedMTL::alignment_matrix(k, kEps);
    const double smallest = linalg::symmetric_eigen(k).values.front();
    std::vector<Tensor> aligned;
    for (int64_t i = 0; i < T; ++i) {
      std::vector<double> coefficients(static_cast<size_t>(T));
      for (int64_t kk = 0; kk < T; ++kk) coefficients[static_cast<size_t>(kk)] = b(static_cast<size_t>(i), static_cast<size_t>(kk));
      aligned.push_back(combination(rows, coefficients));
    }
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j < T; ++j) {
        const double inner = aligned[static_cast<size_t>(i)].dot(aligned[static_cast<size_t>(j)]).item<double>();
        EXPECT_NEAR(inner, i == j ? smallest : 0.0, 1e-9 * linalg::trace(k)) << "seed " << seed;
      }
    // The update is the sum of the aligned components.
    auto weighting = make_weighting("aligned_mtl", static_cast<size_t>(T));
    std::vector<std::vector<double>> as_vectors;
    for (const Tensor& r : rows) as_vectors.push_back(r.to_vector<double>());
    Tensor sum = zeros({7}, kFloat64);
    for (const Tensor& a : aligned) sum = sum + a;
    expect_vector_near(probe_update(*weighting, as_vectors), sum.to_vector<double>(), 1e-9 * linalg::trace(k));
  }
}

TEST(AlignedMTL, DropsEigenvaluesBelowThePrecision) {
  // Three gradients spanning a plane: rank 2, the third eigenvalue is rounding.
  const std::vector<Tensor> rows = {tensor({1.0, 0.0, 0.0}), tensor({0.0, 1.0, 0.0}), tensor({1.0, 1.0, 0.0})};
  const linalg::Matrix b = AlignedMTL::alignment_matrix(gramian_of(rows), kEps);
  for (double v : b.values()) EXPECT_TRUE(std::isfinite(v));
  // Zero gradients everywhere: no update at all.
  const linalg::Matrix zero = AlignedMTL::alignment_matrix(linalg::Matrix(2, 2), kEps);
  EXPECT_EQ(zero.values(), std::vector<double>(4, 0.0));
}

TEST(AlignedMTL, EndToEndOnEveryScope) {
  auto weights = [](const linalg::Matrix& k) {
    const linalg::Matrix b = AlignedMTL::alignment_matrix(k, kEps);
    std::vector<double> alpha(k.rows(), 0.0);
    for (size_t i = 0; i < k.rows(); ++i)
      for (size_t j = 0; j < k.rows(); ++j) alpha[j] += b(i, j);
    return alpha;
  };
  check_end_to_end("aligned_mtl", weights, 2, 1e-8);
  check_end_to_end("aligned_mtl:scope=last", weights, 2, 1e-8);
  check_end_to_end("aligned_mtl:scope=rep", weights, 3, 1e-8);
}

TEST(AlignedMTL, RejectsUnknownOptions) { EXPECT_THROW(AlignedMTL(2, {{"tolerance", "1"}}), Error); }

}  // namespace
