// db_mtl: logarithmic losses, moving averages of the task gradients with the decaying rate β/k^σ, every
// averaged gradient scaled to the largest norm; by hand on a probe and end to end on every scope.
#include <gtest/gtest.h>

#include <cmath>

#include "mtl/weighting/db_mtl.h"
#include "tests/mtl/weighting/gradient_method_fixtures.h"

namespace {

using namespace tandem;
using namespace tandem::mtl;
using namespace tandem::mtl::testing;

TEST(DBMTL, HandCheckedSteps) {
  // L = (1, 4) at θ = 0, gradients (1, 0) and (0, 2): ∇ log L_t = g_t / L_t = (1, 0) and (0, 1/2) (up to the
  // ε = 1e-8 of log(L + ε), hence the tolerances of 1e-7 in this file).
  DBMTL db(2);
  LinearProbe probe(kOrthogonal, std::vector<double>{1.0, 4.0});
  const std::vector<std::vector<double>> rows = {{1.0, 0.0}, {0.0, 0.5}};
  std::vector<std::vector<double>> average = {{0.0, 0.0}, {0.0, 0.0}};
  for (int step = 1; step <= 3; ++step) {
    const double rate = 0.9 / std::sqrt(static_cast<double>(step));
    for (size_t t = 0; t < 2; ++t)
      for (size_t i = 0; i < 2; ++i) average[t][i] = rows[t][i] + rate * (average[t][i] - rows[t][i]);
    // Both averages stay proportional to their rows: α = (1, 2) puts them at the same norm.
    const WeightingReport report = run_probe_step(db, *probe);
    expect_vector_near(report.weights, {1.0, 2.0}, 1e-6, numbered("step ", static_cast<size_t>(step)));
    expect_vector_near(probe->theta.grad().to_vector<double>(), {average[0][0], 2.0 * average[1][1]}, 1e-7,
                       numbered("step ", static_cast<size_t>(step)));
  }
  // Step 1 keeps a tenth of the gradient (β = 0.9): checked on a fresh method.
  DBMTL fresh(2);
  LinearProbe again(kOrthogonal, std::vector<double>{1.0, 4.0});
  run_probe_step(fresh, *again);
  expect_vector_near(again->theta.grad().to_vector<double>(), {0.1, 0.1}, 1e-7);
  // The averages and the step count are buffers (saved with the checkpoint).
  EXPECT_EQ(db.gradient_average().sizes(), Dims({2, 2}));
  EXPECT_EQ(db.named_buffers()["steps"].item<int64_t>(), 3);
}

TEST(DBMTL, HandCheckedPairs) {
  // With equal losses, opposite gradients of equal norm cancel and identical ones add.
  DBMTL opposite(2);
  expect_vector_near(probe_update(opposite, kOpposite, {2.0, 2.0}), {0.0, 0.0}, 1e-12);
  DBMTL identical(2);
  expect_vector_near(probe_update(identical, kIdentical, {2.0, 2.0}), {0.1, 0.2}, 1e-7);
  // Orthogonal gradients of norms 1 and 2 with losses 1 and 1: rescaled to the larger, d = 0.1·(2, 2).
  DBMTL orthogonal(2);
  expect_vector_near(probe_update(orthogonal, kOrthogonal, {1.0, 1.0}), {0.2, 0.2}, 1e-7);
}

TEST(DBMTL, PlainMovingAverageWithoutDecay) {
  // σ = 0: a plain EMA with rate β.
  DBMTL db(2, {{"beta", "0.5"}, {"beta_sigma", "0"}});
  LinearProbe probe(kOrthogonal, std::vector<double>{1.0, 1.0});
  run_probe_step(db, *probe);
  run_probe_step(db, *probe);
  // average after two steps: g (1 − 0.5²) = 0.75 g; α = (2, 1).
  expect_vector_near(probe->theta.grad().to_vector<double>(), {1.5, 1.5}, 1e-7);
}

TEST(DBMTL, NeedsNonNegativeLosses) {
  DBMTL db(2);
  LinearProbe probe(kOrthogonal, std::vector<double>{-1.0, 1.0});
  EXPECT_THROW(run_probe_step(db, *probe), Error);
}

TEST(DBMTL, EndToEndOnEveryScope) {
  for (const std::string scope : {"params", "last", "rep"}) {
    SCOPED_TRACE(scope);
    manual_seed(11);
    TwoLayerModel model;
    const TwoLayerBatch batch = make_two_layer_batch(2);
    DBMTL db(2, {{"scope", scope}});
    const auto shared = model->shared_parameters();
    // Expected: ĝ_t = 0.1 ∇ log L_t at the first step, α from the norms over the scope, d = Σ α_t ĝ_t.
    std::vector<Tensor> rows, scope_rows, heads;
    Tensor z, leaf;
    std::vector<Tensor> log_losses;
    if (scope == "rep") {
      z = model->encode(batch.x);
      leaf = z.detach().requires_grad_(true);
      for (const Tensor& l : squared_errors(model->decode(leaf, batch.x), batch.targets)) log_losses.push_back((l + 1e-8).log());
      rows = scope_rows = gradient_rows(log_losses, {leaf});
    } else {
      for (const Tensor& l : squared_errors(model->forward(batch.x), batch.targets)) log_losses.push_back((l + 1e-8).log());
      rows = gradient_rows(log_losses, shared);
      scope_rows = scope == "last" ? gradient_rows(log_losses, model->second->parameters()) : rows;
    }
    const double n0 = scope_rows[0].norm().item<double>(), n1 = scope_rows[1].norm().item<double>();
    const std::vector<double> alpha = {std::max(n0, n1) / n0 * 0.1, std::max(n0, n1) / n1 * 0.1};
    Tensor expected = combination(rows, alpha);
    if (scope == "rep") {
      std::vector<Tensor> flat;
      for (const Tensor& g : autograd::grad({z}, shared, {expected.view(z.sizes())}, true)) flat.push_back(g.reshape({-1}));
      expected = cat(flat, 0);
    }
    for (size_t t = 0; t < 2; ++t) heads.push_back(gradient_rows({log_losses[t]}, model->task_parameters(t))[0]);
    run_step(db, *model, batch.x, [&](const std::vector<Tensor>& out) { return squared_errors(out, batch.targets); });
    expect_tensor_near(flat_grad(shared), expected, 1e-10);
    for (size_t t = 0; t < 2; ++t) expect_tensor_near(flat_grad(model->task_parameters(t)), heads[t], 1e-10);
  }
}

TEST(DBMTL, RejectsBadOptions) {
  EXPECT_THROW(DBMTL(2, {{"beta", "1"}}), Error);
  EXPECT_THROW(DBMTL(2, {{"beta_sigma", "-1"}}), Error);
  EXPECT_THROW(DBMTL(2, {{"eps", "1e-8"}}), Error);
}

}  // namespace
