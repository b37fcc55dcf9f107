// graddrop: the sign-purity mask on the representation, by hand (identical, opposite and feature-disjoint
// gradients, leak = 1) and against the formula with the same seeded draw; representation scope only.
#include <gtest/gtest.h>

#include "mtl/weighting/graddrop.h"
#include "tests/mtl/weighting/gradient_method_fixtures.h"

namespace {

using namespace tandem;
using namespace tandem::mtl;
using namespace tandem::mtl::testing;

/// z = x ⊙ w (w shared, [F]) and L_t = Σ a_t ⊙ z, so ∂L_t/∂z = a_t exactly.
class SignProbeImpl : public MultiTaskModel {
 public:
  SignProbeImpl(std::vector<Tensor> directions, Tensor scale)
      : MultiTaskModel({"a", "b"}), directions_(std::move(directions)) {
    w = register_parameter("w", std::move(scale));
  }
  bool has_representation() const override { return true; }
  Tensor encode(const Tensor& x) override { return x * w; }
  std::vector<Tensor> decode(const Tensor& z, const Tensor&) override {
    return {(z * directions_[0]).sum(), (z * directions_[1]).sum()};
  }
  std::vector<Tensor> task_parameters(size_t) const override { return {}; }
  Tensor w;

 private:
  std::vector<Tensor> directions_;
};
TANDEM_MODULE(SignProbe);

/// The update of z the method makes for directions a1, a2 at input x (seeded draw), read back from w.grad:
/// w.grad = Σ_batch x ⊙ dz.
Tensor run_graddrop(GradDrop& method, const Tensor& x, const Tensor& w, const Tensor& a1, const Tensor& a2,
                    uint64_t seed) {
  SignProbe model(std::vector<Tensor>{a1, a2}, w.clone());
  manual_seed(seed);
  run_step(method, *model, x, [](const std::vector<Tensor>& out) { return out; });
  return model->w.grad();
}

/// Σ_batch x ⊙ dz for a given dz.
Tensor through_encoder(const Tensor& x, const Tensor& dz) { return (x * dz).sum({0}); }

TEST(GradDrop, HandCheckedCases) {
  manual_seed(1);
  const Tensor x = randn({3, 4}, TensorOptions(kFloat64));
  const Tensor w = randn({4}, TensorOptions(kFloat64));
  const Tensor a = randn({3, 4}, TensorOptions(kFloat64));
  GradDrop graddrop(2);
  // Identical gradients agree on every sign: P is 0 or 1 and both are always kept.
  expect_tensor_near(run_graddrop(graddrop, x, w, a, a, 7), through_encoder(x, a * 2.0), 1e-12);
  // Gradients on disjoint features: each feature has one task, whose sign wins with P ∈ {0, 1}.
  const Tensor left = a * tensor({1.0, 1.0, 0.0, 0.0}), right = a * tensor({0.0, 0.0, 1.0, 1.0});
  expect_tensor_near(run_graddrop(graddrop, x, w, left, right, 7), through_encoder(x, a), 1e-12);
  // Opposite gradients: P = ½ everywhere, so exactly one task survives per feature — the one whose s is
  // positive when U < ½, the other when U > ½.
  const Tensor dropped = run_graddrop(graddrop, x, w, a, -a, 9);
  manual_seed(9);
  const auto u = rand({4}, TensorOptions(kFloat64)).to_vector<double>();
  const Tensor signs = (x * w).sign();
  const auto s1 = (a * signs).sum({0}).to_vector<double>();
  std::vector<double> keep_first(4);
  for (size_t f = 0; f < 4; ++f) keep_first[f] = (0.5 > u[f]) == (s1[f] > 0) ? 1.0 : -1.0;  // +a or −a
  expect_tensor_near(dropped, through_encoder(x, a * tensor(keep_first)), 1e-12);
  // leak = 1 keeps everything: the plain sum.
  GradDrop leaky(2, {{"leak", "1"}});
  const Tensor b = randn({3, 4}, TensorOptions(kFloat64));
  expect_tensor_near(run_graddrop(leaky, x, w, a, b, 3), through_encoder(x, a + b), 1e-12);
}

TEST(GradDrop, MatchesThePurityRule) {
  for (uint64_t seed = 0; seed < 6; ++seed) {
    manual_seed(100 + seed);
    const Tensor x = randn({5, 6}, TensorOptions(kFloat64)), w = randn({6}, TensorOptions(kFloat64));
    const Tensor a1 = randn({5, 6}, TensorOptions(kFloat64)), a2 = randn({5, 6}, TensorOptions(kFloat64));
    const double leak = 0.25 * static_cast<double>(seed % 3);
    GradDrop graddrop(2, WeightingOptions{}.set("leak", leak));
    const Tensor got = run_graddrop(graddrop, x, w, a1, a2, seed);
    // The rule, feature by feature.
    manual_seed(seed);
    const auto u = rand({6}, TensorOptions(kFloat64)).to_vector<double>();
    const Tensor signs = (x * w).sign();
    const auto s1 = (a1 * signs).sum({0}).to_vector<double>(), s2 = (a2 * signs).sum({0}).to_vector<double>();
    std::vector<double> k1(6), k2(6);
    for (size_t f = 0; f < 6; ++f) {
      const double purity = 0.5 * (1.0 + (s1[f] + s2[f]) / (std::abs(s1[f]) + std::abs(s2[f])));
      auto kept = [&](double s) { return (purity > u[f] && s > 0) || (purity < u[f] && s < 0) ? 1.0 : 0.0; };
      k1[f] = leak + (1 - leak) * kept(s1[f]);
      k2[f] = leak + (1 - leak) * kept(s2[f]);
    }
    const Tensor dz = a1 * tensor(k1) + a2 * tensor(k2);
    expect_tensor_near(got, through_encoder(x, dz), 1e-12, numbered("seed ", seed));
  }
}

TEST(GradDrop, RepresentationOnly) {
  EXPECT_EQ(GradDrop(2).scope(), SharedScope::kRepresentation);
  EXPECT_TRUE(GradDrop(2).uses_representation());
  EXPECT_THROW(GradDrop(2, {{"scope", "params"}}), Error);
  EXPECT_THROW(GradDrop(2, {{"scope", "last"}}), Error);
  EXPECT_THROW(GradDrop(2, {{"leak", "2"}}), Error);
  EXPECT_THROW(GradDrop(2, {{"p", "0.5"}}), Error);
  // A model without a representation cannot run it.
  GradDrop graddrop(2);
  LinearProbe probe(kOrthogonal);
  EXPECT_THROW(run_probe_step(graddrop, *probe), Error);
}

TEST(GradDrop, HeadsKeepTheirTaskGradients) {
  manual_seed(11);
  TwoLayerModel model;
  const TwoLayerBatch batch = make_two_layer_batch(2);
  GradDrop graddrop(2);
  const auto losses = squared_errors(model->forward(batch.x), batch.targets);
  std::vector<Tensor> heads;
  for (size_t t = 0; t < 2; ++t) heads.push_back(gradient_rows({losses[t]}, model->task_parameters(t))[0]);
  const WeightingReport report =
      run_step(graddrop, *model, batch.x, [&](const std::vector<Tensor>& out) { return squared_errors(out, batch.targets); });
  for (size_t t = 0; t < 2; ++t) {
    expect_tensor_near(flat_grad(model->task_parameters(t)), heads[t], 1e-12);
    EXPECT_GE(report.weights[t], 0.0);
    EXPECT_LE(report.weights[t], 1.0);
  }
  for (const Tensor& p : model->shared_parameters()) EXPECT_TRUE(p.grad().defined());
}

}  // namespace
