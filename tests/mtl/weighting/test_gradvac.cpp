// gradvac: the alignment of each pair to its adaptive target, by hand and against the vector formula; the
// targets' moving average across steps; one group per parameter tensor; every scope end to end.
#include <gtest/gtest.h>

#include <cmath>

#include "mtl/weighting/gradvac.h"
#include "tests/mtl/weighting/gradient_method_fixtures.h"

namespace {

using namespace tandem;
using namespace tandem::mtl;
using namespace tandem::mtl::testing;

double dot(const std::vector<double>& x, const std::vector<double>& y) {
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}
double cosine(const std::vector<double>& x, const std::vector<double>& y) {
  return dot(x, y) / std::sqrt(dot(x, x) * dot(y, y));
}

/// Two tasks on one group, written on the vectors: returns g'_1 + g'_2 and updates the targets [φ12, φ21].
std::vector<double> gradvac_on_vectors(const std::vector<double>& a, const std::vector<double>& b,
                                       std::array<double, 2>& targets, double beta) {
  auto adjust = [&](const std::vector<double>& gi, const std::vector<double>& gj, double& target) {
    std::vector<double> out = gi;
    const double rho = cosine(gi, gj);
    if (rho < target) {
      const double scale = std::sqrt(dot(gi, gi)) * (target * std::sqrt(1 - rho * rho) - rho * std::sqrt(1 - target * target)) /
                           (std::sqrt(dot(gj, gj)) * std::sqrt(1 - target * target));
      for (size_t k = 0; k < out.size(); ++k) out[k] += scale * gj[k];
    }
    target = (1 - beta) * target + beta * rho;
    return out;
  };
  const auto a2 = adjust(a, b, targets[0]);
  const auto b2 = adjust(b, a, targets[1]);
  std::vector<double> sum(a.size());
  for (size_t k = 0; k < a.size(); ++k) sum[k] = a2[k] + b2[k];
  return sum;
}

TEST(GradVac, HandCheckedPairsAtTheFirstStep) {
  // The targets start at 0: only conflicts (ρ < 0) are corrected, exactly as PCGrad does.
  expect_vector_near(probe_update(*std::make_shared<GradVac>(2), kOrthogonal), {1.0, 2.0}, 1e-14);
  expect_vector_near(probe_update(*std::make_shared<GradVac>(2), kIdentical), {2.0, 4.0}, 1e-14);
  expect_vector_near(probe_update(*std::make_shared<GradVac>(2), kOpposite), {0.0, 0.0}, 1e-14);
  expect_vector_near(probe_update(*std::make_shared<GradVac>(2), kConflict), {0.5, 1.5}, 1e-14);
}

TEST(GradVac, AlignsEachPairToItsTarget) {
  // g1, g2 with cos = −0.2 and targets 0.3: afterwards cos(g'_i, g_j) = 0.3 exactly.
  const std::vector<double> g1 = {1.0, 0.0}, g2 = {-0.2 * 2.0, std::sqrt(1 - 0.04) * 2.0};
  const linalg::Matrix k = gramian_of({tensor(g1, TensorOptions(kFloat64)), tensor(g2, TensorOptions(kFloat64))});
  std::vector<double> targets = {0.0, 0.3, 0.3, 0.0};
  const linalg::Matrix c = GradVac::group_coefficients(k, targets, 0.25, {{1}, {0}});
  std::vector<double> g1_new(2), g2_new(2);
  for (size_t i = 0; i < 2; ++i) {
    g1_new[i] = c(0, 0) * g1[i] + c(0, 1) * g2[i];
    g2_new[i] = c(1, 0) * g1[i] + c(1, 1) * g2[i];
  }
  EXPECT_NEAR(cosine(g1_new, g2), 0.3, 1e-12);
  EXPECT_NEAR(cosine(g2_new, g1), 0.3, 1e-12);
  // Only g_j is added to g_i: the coefficient of g_i stays 1.
  EXPECT_DOUBLE_EQ(c(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(c(1, 1), 1.0);
  // The targets move towards the observed cosine: (1 − β) 0.3 + β (−0.2).
  EXPECT_NEAR(targets[1], 0.75 * 0.3 + 0.25 * -0.2, 1e-14);
  EXPECT_NEAR(targets[2], 0.75 * 0.3 + 0.25 * -0.2, 1e-14);
  EXPECT_EQ(targets[0], 0.0);
  // A pair above its target is left alone.
  std::vector<double> low = {0.0, -0.5, -0.5, 0.0};
  const linalg::Matrix unchanged = GradVac::group_coefficients(k, low, 0.5, {{1}, {0}});
  EXPECT_EQ(unchanged.values(), linalg::Matrix::identity(2).values());
}

TEST(GradVac, TargetsAreAMovingAverageAcrossSteps) {
  GradVac gradvac(2, {{"beta", "0.5"}});
  LinearProbe probe(kConflict);
  std::array<double, 2> targets = {0.0, 0.0};
  for (int step = 0; step < 4; ++step) {
    const auto expected = gradvac_on_vectors(kConflict[0], kConflict[1], targets, 0.5);
    run_probe_step(gradvac, *probe);
    expect_vector_near(probe->theta.grad().to_vector<double>(), expected, 1e-12, numbered("step ", static_cast<size_t>(step)));
    const auto stored = gradvac.targets().to_vector<double>();  // [1 group, 2, 2]
    ASSERT_EQ(gradvac.targets().sizes(), Dims({1, 2, 2}));
    EXPECT_NEAR(stored[1], targets[0], 1e-14);
    EXPECT_NEAR(stored[2], targets[1], 1e-14);
  }
  // The targets are a buffer: saved and restored with the checkpoint.
  EXPECT_TRUE(gradvac.named_buffers().contains("targets"));
}

TEST(GradVac, OneGroupPerParameterTensor) {
  manual_seed(11);
  TwoLayerModel model;
  const TwoLayerBatch batch = make_two_layer_batch(2);
  GradVac gradvac(2);
  const auto shared = model->shared_parameters();
  const auto losses = squared_errors(model->forward(batch.x), batch.targets);
  // Expected: each parameter's block combined with the coefficients of its own Gramian.
  std::vector<Tensor> expected_blocks;
  for (const Tensor& p : shared) {
    const auto rows = gradient_rows(losses, {p});
    std::vector<double> targets(4, 0.0);
    const linalg::Matrix c = GradVac::group_coefficients(gramian_of(rows), targets, 0.5, {{1}, {0}});
    expected_blocks.push_back(combination(rows, {c(0, 0) + c(1, 0), c(0, 1) + c(1, 1)}));
  }
  run_step(gradvac, *model, batch.x, [&](const std::vector<Tensor>& out) { return squared_errors(out, batch.targets); });
  expect_tensor_near(flat_grad(shared), cat(expected_blocks, 0), 1e-12);
  EXPECT_EQ(gradvac.targets().sizes(), Dims({static_cast<int64_t>(shared.size()), 2, 2}));
  for (size_t t = 0; t < 2; ++t)
    expect_tensor_near(flat_grad(model->task_parameters(t)), gradient_rows({losses[t]}, model->task_parameters(t))[0],
                       1e-12);
  // A model with another number of groups does not match the stored targets.
  LinearProbe probe(kConflict);
  EXPECT_THROW(run_probe_step(gradvac, *probe), Error);
}

TEST(GradVac, EndToEndOnOneGroupScopes) {
  // scope=last and scope=rep make one group whose coefficients weight all shared parameters.
  auto first_step = [](const linalg::Matrix& k) {
    std::vector<double> targets(4, 0.0);
    const linalg::Matrix c = GradVac::group_coefficients(k, targets, 0.5, {{1}, {0}});
    return std::vector<double>{c(0, 0) + c(1, 0), c(0, 1) + c(1, 1)};
  };
  check_end_to_end("gradvac:scope=last", first_step);
  check_end_to_end("gradvac:scope=rep", first_step);
}

TEST(GradVac, RejectsBadOptions) {
  EXPECT_THROW(GradVac(2, {{"beta", "1.5"}}), Error);
  EXPECT_THROW(GradVac(2, {{"beta", "-0.1"}}), Error);
  EXPECT_THROW(GradVac(2, {{"c", "0.5"}}), Error);
  EXPECT_DOUBLE_EQ(GradVac(2, {{"beta", "0.01"}}).beta(), 0.01);
  std::vector<double> targets(4, 0.0);
  EXPECT_THROW(GradVac::group_coefficients(linalg::Matrix::identity(2), targets, 0.5, {{1}}), Error);
}

}  // namespace
