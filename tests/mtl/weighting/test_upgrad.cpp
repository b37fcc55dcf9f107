// upgrad: projections onto the dual cone of the gradients — by hand on the pairs, the update never conflicts
// with any task, no change without conflicts — and every scope end to end.
#include <gtest/gtest.h>

#include "mtl/weighting/upgrad.h"
#include "tests/mtl/weighting/gradient_method_fixtures.h"

namespace {

using namespace tandem;
using namespace tandem::mtl;
using namespace tandem::mtl::testing;

TEST(UPGrad, HandCheckedPairs) {
  UPGrad upgrad(2);
  // No conflict: each gradient is already in the dual cone, the update is the sum.
  expect_vector_near(probe_update(upgrad, kOrthogonal), {1.0, 2.0}, 1e-8);
  expect_vector_near(probe_update(upgrad, kIdentical), {2.0, 4.0}, 1e-8);
  // Opposite: the dual cone is the normal plane of g, both projections vanish.
  expect_vector_near(probe_update(upgrad, kOpposite), {0.0, 0.0}, 1e-8);
  // g1 = (1, 0), g2 = (−1, 1): g1 projects to (½, ½) (onto g2's normal plane, where g1·(½, ½) ≥ 0 holds),
  // g2 to (0, 1): d = (½, 3/2) — for two tasks the same as PCGrad.
  expect_vector_near(probe_update(upgrad, kConflict), {0.5, 1.5}, 1e-8);
  expect_vector_near(UPGrad::projection_weights(linalg::Matrix{{1.0, -1.0}, {-1.0, 2.0}}), {2.0, 1.5}, 1e-8);
}

TEST(UPGrad, NeverConflictsWithAnyTask) {
  for (unsigned seed = 0; seed < 12; ++seed) {
    manual_seed(seed);
    const auto T = static_cast<int64_t>(2 + seed % 5);
    const Tensor g = randn({T, seed % 2 ? 3 : 8}, TensorOptions(kFloat64));  // some with T > D
    std::vector<Tensor> rows;
    for (int64_t t = 0; t < T; ++t) rows.push_back(g[t]);
    const linalg::Matrix k = gramian_of(rows);
    const Tensor d = combination(rows, UPGrad::projection_weights(k));
    for (const Tensor& row : rows) EXPECT_GE(d.dot(row).item<double>(), -1e-7 * linalg::trace(k)) << "seed " << seed;
  }
}

TEST(UPGrad, WithoutConflictsItIsTheSum) {
  // Pairwise non-negative inner products: every e_i is already optimal.
  const linalg::Matrix k{{2.0, 0.5, 0.0}, {0.5, 1.0, 0.2}, {0.0, 0.2, 3.0}};
  expect_vector_near(UPGrad::projection_weights(k), {1.0, 1.0, 1.0}, 1e-8);
  expect_vector_near(UPGrad::projection_weights(linalg::Matrix(2, 2)), {1.0, 1.0}, 0.0);
}

TEST(UPGrad, EndToEndOnEveryScope) {
  auto weights = [](const linalg::Matrix& k) { return UPGrad::projection_weights(k); };
  check_end_to_end("upgrad", weights);
  check_end_to_end("upgrad:scope=last", weights);
  check_end_to_end("upgrad:scope=rep", weights, 3);
}

TEST(UPGrad, RejectsUnknownOptions) { EXPECT_THROW(UPGrad(2, {{"pref", "mean"}}), Error); }

}  // namespace
