// pcgrad: projections of conflicting gradients, by hand and against the vector formula, and end to end.
#include <gtest/gtest.h>

#include <cmath>

#include "mtl/weighting/pcgrad.h"
#include "tests/mtl/weighting/gradient_method_fixtures.h"

namespace {

using namespace tandem;
using namespace tandem::mtl;
using namespace tandem::mtl::testing;

TEST(PCGrad, HandCheckedPairs) {
  PCGrad pcgrad(2);
  // No conflict: the plain sum.
  expect_vector_near(probe_update(pcgrad, kOrthogonal), {1.0, 2.0}, 1e-14);
  expect_vector_near(probe_update(pcgrad, kIdentical), {2.0, 4.0}, 1e-14);
  // Opposite: each projection removes the whole gradient, the update is zero.
  expect_vector_near(probe_update(pcgrad, kOpposite), {0.0, 0.0}, 1e-14);
  expect_vector_near(probe_update(pcgrad, {{1.0, 0.0}, {-2.0, 0.0}}), {0.0, 0.0}, 1e-14);
}

TEST(PCGrad, TwoTaskConflictMatchesTheProjectionFormula) {
  // g1 = (1, 0), g2 = (−1, 1): g'_1 = g1 − (g1·g2/‖g2‖²) g2 = (1/2, 1/2), g'_2 = g2 − (g2·g1/‖g1‖²) g1 = (0, 1).
  PCGrad pcgrad(2);
  expect_vector_near(probe_update(pcgrad, kConflict), {0.5, 1.5}, 1e-14);
  // Random conflicting pairs in R^4, against the projection written on the vectors.
  for (unsigned seed = 0; seed < 10; ++seed) {
    manual_seed(seed);
    std::vector<double> a = randn({4}, TensorOptions(kFloat64)).to_vector<double>();
    std::vector<double> b = randn({4}, TensorOptions(kFloat64)).to_vector<double>();
    auto dot = [](const std::vector<double>& x, const std::vector<double>& y) {
      double s = 0;
      for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
      return s;
    };
    if (dot(a, b) > 0)
      for (double& v : b) v = -v;  // make them conflict
    std::vector<double> expected(4);
    for (size_t i = 0; i < 4; ++i)
      expected[i] = a[i] - dot(a, b) / dot(b, b) * b[i] + b[i] - dot(a, b) / dot(a, a) * a[i];
    expect_vector_near(probe_update(pcgrad, {a, b}), expected, 1e-12);
  }
}

/// PCGrad written on the vectors themselves, for the given orders.
std::vector<double> pcgrad_on_vectors(const std::vector<std::vector<double>>& g,
                                      const std::vector<std::vector<size_t>>& orders) {
  auto dot = [](const std::vector<double>& x, const std::vector<double>& y) {
    double s = 0;
    for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
    return s;
  };
  std::vector<double> total(g[0].size(), 0.0);
  for (size_t i = 0; i < g.size(); ++i) {
    std::vector<double> projected = g[i];
    for (size_t j : orders[i]) {
      if (j == i) continue;
      const double conflict = dot(projected, g[j]);
      if (conflict < 0)
        for (size_t k = 0; k < projected.size(); ++k) projected[k] -= conflict / dot(g[j], g[j]) * g[j][k];
    }
    for (size_t k = 0; k < total.size(); ++k) total[k] += projected[k];
  }
  return total;
}

TEST(PCGrad, ProjectionsFollowTheGivenOrder) {
  // g1 = (1, 0), g2 = (−1, 1), g3 = (−1, −1). Task 1 against g2 then g3: (1/2, 1/2), then 0, so c1 = (1, ½, ½);
  // task 2 against g1 then g3: (0, 1), then (−½, ½): c2 = (1, 1, ½); task 3 likewise c3 = (1, ½, 1).
  const linalg::Matrix k{{1.0, -1.0, -1.0}, {-1.0, 2.0, 0.0}, {-1.0, 0.0, 2.0}};
  expect_vector_near(PCGrad::weights(k, {{1, 2}, {0, 2}, {0, 1}}), {3.0, 2.0, 2.0}, 1e-14);
  // Random problems and orders: the weights reproduce the projections done on the vectors, and some orders
  // give different results.
  bool order_mattered = false;
  for (unsigned seed = 0; seed < 20; ++seed) {
    manual_seed(seed);
    const Tensor rows = randn({4, 3}, TensorOptions(kFloat64));
    std::vector<std::vector<double>> g;
    for (int64_t t = 0; t < 4; ++t) g.push_back(rows[t].to_vector<double>());
    std::vector<std::vector<size_t>> forward(4), backward(4);
    for (size_t i = 0; i < 4; ++i)
      for (size_t j = 0; j < 4; ++j) forward[i].push_back(j), backward[i].push_back(3 - j);
    const linalg::Matrix gram = gramian_of({rows[0], rows[1], rows[2], rows[3]});
    std::vector<double> via_weights(3, 0.0);
    const auto alpha = PCGrad::weights(gram, forward);
    for (size_t t = 0; t < 4; ++t)
      for (size_t k2 = 0; k2 < 3; ++k2) via_weights[k2] += alpha[t] * g[t][k2];
    const auto expected = pcgrad_on_vectors(g, forward);
    expect_vector_near(via_weights, expected, 1e-12);
    const auto other = pcgrad_on_vectors(g, backward);
    for (size_t k2 = 0; k2 < 3; ++k2) order_mattered = order_mattered || std::abs(other[k2] - expected[k2]) > 1e-6;
  }
  EXPECT_TRUE(order_mattered);
  EXPECT_THROW(PCGrad::weights(k, {{0}, {1}}), Error);
  EXPECT_THROW(PCGrad::weights(k, {{5}, {1}, {2}}), Error);
}

TEST(PCGrad, SeededOrdersAreReproducible) {
  const std::vector<std::vector<double>> g = {{1.0, 0.2, 0.0}, {-1.0, 1.0, 0.3}, {-0.4, -1.0, 1.0}, {0.1, 0.5, -1.0}};
  PCGrad pcgrad(4);
  manual_seed(5);
  const auto first = probe_update(pcgrad, g);
  manual_seed(5);
  const auto second = probe_update(pcgrad, g);
  EXPECT_EQ(first, second);
}

TEST(PCGrad, EndToEndOnEveryScope) {
  auto two_task = [](const linalg::Matrix& k) { return PCGrad::weights(k, {{0, 1}, {1, 0}}); };
  check_end_to_end("pcgrad", two_task);
  check_end_to_end("pcgrad:scope=last", two_task);
  check_end_to_end("pcgrad:scope=rep", two_task);
}

TEST(PCGrad, RejectsUnknownOptions) {
  EXPECT_THROW(PCGrad(2, {{"c", "1"}}), Error);
  EXPECT_THROW(make_weighting("pcgrad:scope=all", 2), Error);
}

}  // namespace
