// nash_mtl: the bargaining weights solve K α = 1/α (by hand on the pairs, then on random Gramians), the
// update's norm is √T, reuse with update_every, clipping with max_norm, and every scope end to end.
#include <gtest/gtest.h>

#include <cmath>

#include "mtl/weighting/nash_mtl.h"
#include "tests/mtl/weighting/gradient_method_fixtures.h"

namespace {

using namespace tandem;
using namespace tandem::mtl;
using namespace tandem::mtl::testing;

TEST(NashMTL, HandCheckedPairs) {
  // Orthogonal, K = diag(1, 4): α_t = 1/√K_tt = (1, 1/2), d = (1, 1).
  expect_vector_near(NashMTL::bargaining_weights(linalg::Matrix{{1.0, 0.0}, {0.0, 4.0}}), {1.0, 0.5}, 1e-7);
  expect_vector_near(probe_update(*std::make_shared<NashMTL>(2), kOrthogonal), {1.0, 1.0}, 1e-7);
  // Identical, K = 5·𝟙𝟙ᵀ: 10 a = 1/a, α = (1/√10, 1/√10), d = 2g/√10 of norm √2.
  expect_vector_near(probe_update(*std::make_shared<NashMTL>(2), kIdentical),
                     {2.0 / std::sqrt(10.0), 4.0 / std::sqrt(10.0)}, 1e-7);
  // Opposite: no exact solution (Pareto-stationary); the ridged one gives a vanishing update.
  const auto d = probe_update(*std::make_shared<NashMTL>(2), kOpposite);
  EXPECT_LT(std::hypot(d[0], d[1]), 1e-6);
}

TEST(NashMTL, WeightsSolveTheBargainingEquation) {
  for (unsigned seed = 0; seed < 10; ++seed) {
    manual_seed(seed);
    const auto T = static_cast<int64_t>(2 + seed % 4);
    // A shared component keeps the gradients away from Pareto stationarity.
    const Tensor g = randn({T, 5}, TensorOptions(kFloat64)) + 1.5;
    std::vector<Tensor> rows;
    for (int64_t t = 0; t < T; ++t) rows.push_back(g[t]);
    const linalg::Matrix k = gramian_of(rows);
    const auto alpha = NashMTL::bargaining_weights(k);
    const auto k_alpha = linalg::matvec(k, alpha);
    for (size_t t = 0; t < alpha.size(); ++t) {
      EXPECT_GT(alpha[t], 0.0);
      EXPECT_NEAR(k_alpha[t], 1.0 / alpha[t], 1e-6 / alpha[t]) << "seed " << seed;
    }
    // Hence αᵀKα = T: the update has norm √T.
    EXPECT_NEAR(combination(rows, alpha).norm().item<double>(), std::sqrt(static_cast<double>(T)), 1e-6);
  }
}

TEST(NashMTL, UpdateEveryReusesTheLastWeights) {
  NashMTL nash(2, {{"update_every", "2"}});
  EXPECT_EQ(nash.update_every(), 2);
  LinearProbe first(kOrthogonal), second(std::vector<std::vector<double>>{{2.0, 0.0}, {0.0, 1.0}});
  const auto w0 = run_probe_step(nash, *first).weights;  // step 0: computed for diag(1, 4)
  expect_vector_near(w0, {1.0, 0.5}, 1e-7);
  const auto w1 = run_probe_step(nash, *second).weights;  // step 1: reused
  expect_vector_near(w1, w0, 0.0);
  expect_vector_near(second->theta.grad().to_vector<double>(), {2.0, 0.5}, 1e-7);
  const auto w2 = run_probe_step(nash, *second).weights;  // step 2: computed for diag(4, 1)
  expect_vector_near(w2, {0.5, 1.0}, 1e-7);
  // The state lives in buffers, so it survives a checkpoint.
  EXPECT_EQ(nash.named_buffers()["steps"].item<int64_t>(), 3);
  expect_vector_near(nash.named_buffers()["last_weights"].to_vector<double>(), {0.5, 1.0}, 1e-7);
}

TEST(NashMTL, MaxNormClipsTheUpdate) {
  // Unclipped, the orthogonal pair gives d = (1, 1) of norm √2.
  NashMTL nash(2, {{"max_norm", "0.5"}});
  const auto d = probe_update(nash, kOrthogonal);
  expect_vector_near(d, {0.5 / std::sqrt(2.0), 0.5 / std::sqrt(2.0)}, 1e-7);
  NashMTL loose(2, {{"max_norm", "10"}});
  expect_vector_near(probe_update(loose, kOrthogonal), {1.0, 1.0}, 1e-7);
}

TEST(NashMTL, EndToEndOnEveryScope) {
  auto weights = [](const linalg::Matrix& k) { return NashMTL::bargaining_weights(k); };
  check_end_to_end("nash_mtl", weights, 2, 1e-8);
  check_end_to_end("nash_mtl:scope=last", weights, 2, 1e-8);
  check_end_to_end("nash_mtl:scope=rep", weights, 3, 1e-8);
}

TEST(NashMTL, RejectsBadOptions) {
  EXPECT_THROW(NashMTL(2, {{"update_every", "0"}}), Error);
  EXPECT_THROW(NashMTL(2, {{"update_every", "1.5"}}), Error);
  EXPECT_THROW(NashMTL(2, {{"max_norm", "-1"}}), Error);
  EXPECT_THROW(NashMTL(2, {{"optim_niter", "20"}}), Error);
  EXPECT_DOUBLE_EQ(NashMTL(2, {{"max_norm", "1.5"}}).max_norm(), 1.5);
}

}  // namespace
