// Gradient diagnostics on hand-made losses L_t = sum(a_t * θ1) + sum(b_t * θ2), whose gradients are (a_t, b_t):
// cosines, norms and conflicts for the whole gradient and per block; the conflict tracker over a hand sequence;
// label relatedness.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "mtl/diagnostics.h"
#include "mtl/task_gradients.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;
using mtl::ConflictTracker;
using mtl::gradient_stats;
using mtl::GradientStats;

/// Per-task gradients of L_t = Σ a_t ⊙ θ1 (+ Σ b_t ⊙ θ2 when `b` is given): row t of G is (a_t, b_t).
mtl::TaskGradients gradients_of(const std::vector<std::vector<double>>& a,
                                const std::vector<std::vector<double>>& b = {}) {
  const Tensor theta1 = randn({static_cast<int64_t>(a[0].size())}, TensorOptions(kFloat64).requires_grad(true));
  const Tensor theta2 =
      b.empty() ? Tensor() : randn({static_cast<int64_t>(b[0].size())}, TensorOptions(kFloat64).requires_grad(true));
  std::vector<Tensor> losses;
  for (size_t t = 0; t < a.size(); ++t) {
    Tensor loss = (tensor(a[t]) * theta1).sum();
    if (!b.empty()) loss = loss + (tensor(b[t]) * theta2).sum();
    losses.push_back(loss);
  }
  mtl::TaskGradients grads;
  grads.compute(losses, b.empty() ? std::vector<Tensor>{theta1} : std::vector<Tensor>{theta1, theta2});
  return grads;
}

double at(const Tensor& m, int64_t i, int64_t j) { return m.select(0, i).select(0, j).item<double>(); }
bool flag(const Tensor& m, int64_t i, int64_t j) { return m.select(0, i).select(0, j).item<bool>(); }

TEST(MtlGradientStats, OrthogonalOppositeIdentical) {
  // Task 0 = (1, 0, 0); task 1 orthogonal, task 2 opposite, task 3 identical (scaled by 2).
  const GradientStats stats = gradient_stats(gradients_of({{1, 0, 0}, {0, 3, 0}, {-1, 0, 0}, {2, 0, 0}}));
  ASSERT_EQ(stats.num_tasks(), 4u);
  EXPECT_EQ(stats.cosine.sizes(), Dims({4, 4}));
  EXPECT_EQ(stats.cosine.dtype(), kFloat64);
  EXPECT_NEAR(at(stats.cosine, 0, 1), 0.0, 1e-12);
  EXPECT_NEAR(at(stats.cosine, 0, 2), -1.0, 1e-12);
  EXPECT_NEAR(at(stats.cosine, 0, 3), 1.0, 1e-12);
  EXPECT_NEAR(at(stats.cosine, 2, 3), -1.0, 1e-12);
  EXPECT_NEAR(at(stats.cosine, 3, 2), -1.0, 1e-12);  // symmetric
  for (int64_t t = 0; t < 4; ++t) EXPECT_DOUBLE_EQ(at(stats.cosine, t, t), 1.0);
  EXPECT_FALSE(flag(stats.conflicts, 0, 1));  // orthogonal is not a conflict
  EXPECT_TRUE(flag(stats.conflicts, 0, 2));
  EXPECT_FALSE(flag(stats.conflicts, 0, 3));
  EXPECT_TRUE(flag(stats.conflicts, 3, 2));
  EXPECT_FALSE(flag(stats.conflicts, 2, 2));
  EXPECT_NEAR(stats.norms[0], 1.0, 1e-12);
  EXPECT_NEAR(stats.norms[1], 3.0, 1e-12);
  EXPECT_NEAR(stats.norms[3], 2.0, 1e-12);
  ASSERT_EQ(stats.num_blocks(), 1u);
  EXPECT_EQ(stats.block_names[0], "block0");
}

TEST(MtlGradientStats, GeneralAngleAndZeroGradient) {
  // cos((1, 1, 0), (1, 0, 0)) = 1/√2; a zero gradient has cosine 0 with everything, itself included.
  const GradientStats stats = gradient_stats(gradients_of({{1, 1, 0}, {1, 0, 0}, {0, 0, 0}}));
  EXPECT_NEAR(at(stats.cosine, 0, 1), 1.0 / std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(stats.norms[0], std::sqrt(2.0), 1e-12);
  EXPECT_EQ(at(stats.cosine, 0, 2), 0.0);
  EXPECT_EQ(at(stats.cosine, 2, 2), 0.0);
  EXPECT_EQ(stats.norms[2], 0.0);
  EXPECT_FALSE(flag(stats.conflicts, 0, 2));
}

TEST(MtlGradientStats, PerBlockCosines) {
  // Block θ1: (1, 0, 0) vs (−1, 0, 0), opposite. Block θ2: (1, 1) vs (1, 1), identical.
  // Whole gradient: ⟨g0, g1⟩ = −1 + 2 = 1, ‖g0‖ = ‖g1‖ = √3, so cos = 1/3 (no conflict overall).
  const GradientStats stats =
      gradient_stats(gradients_of({{1, 0, 0}, {-1, 0, 0}}, {{1, 1}, {1, 1}}), {"encoder.weight", "encoder.bias"});
  ASSERT_EQ(stats.num_blocks(), 2u);
  EXPECT_EQ(stats.block_names, (std::vector<std::string>{"encoder.weight", "encoder.bias"}));
  EXPECT_NEAR(at(stats.block_cosine[0], 0, 1), -1.0, 1e-12);
  EXPECT_NEAR(at(stats.block_cosine[1], 0, 1), 1.0, 1e-12);
  EXPECT_NEAR(at(stats.cosine, 0, 1), 1.0 / 3.0, 1e-12);
  EXPECT_FALSE(flag(stats.conflicts, 0, 1));
  EXPECT_NEAR(stats.norms[0], std::sqrt(3.0), 1e-12);
  EXPECT_THROW(gradient_stats(gradients_of({{1, 0}, {0, 1}}, {{1}, {1}}), {"only one name"}), Error);
  EXPECT_THROW(gradient_stats(mtl::TaskGradients()), Error);
}

TEST(MtlCosineFromGramian, MatchesDefinition) {
  // Vectors (3, 4) and (4, −3) are orthogonal; (3, 4) and (−6, −8) opposite.
  const Tensor K = tensor<double>({25, 0, -50, 0, 25, 0, -50, 0, 100}).reshape({3, 3});
  const Tensor cosine = mtl::cosine_from_gramian(K);
  EXPECT_NEAR(at(cosine, 0, 1), 0.0, 1e-12);
  EXPECT_NEAR(at(cosine, 0, 2), -1.0, 1e-12);
  EXPECT_THROW(mtl::cosine_from_gramian(zeros({2, 3}, kFloat64)), Error);
}

/// Stats of 3 tasks with the given pair cosines (0,1), (0,2), (1,2) and one block whose cosines are `block`.
GradientStats hand_stats(double c01, double c02, double c12, double b01, double b02, double b12,
                         std::vector<std::string> blocks = {"shared"}) {
  GradientStats stats;
  stats.norms = {1.0, 2.0, 3.0};
  stats.cosine = tensor<double>({1, c01, c02, c01, 1, c12, c02, c12, 1}).reshape({3, 3});
  stats.conflicts = stats.cosine.lt(0.0);
  stats.block_names = std::move(blocks);
  for (size_t b = 0; b < stats.block_names.size(); ++b)
    stats.block_cosine.push_back(tensor<double>({1, b01, b02, b01, 1, b12, b02, b12, 1}).reshape({3, 3}));
  return stats;
}

TEST(MtlConflictTracker, RatesOverAHandSequence) {
  ConflictTracker tracker({"left", "right", "extra"});
  // Pair (left, right) conflicts in steps 1 and 2, (left, extra) in step 3, (right, extra) never.
  tracker.update(hand_stats(-0.5, 0.2, 0.1, /*block*/ -0.1, -0.2, 0.3));
  tracker.update(hand_stats(-0.1, 0.4, 0.3, 0.5, 0.5, 0.5));
  tracker.update(hand_stats(0.3, -0.6, 0.2, -0.4, 0.1, 0.1));
  tracker.update(hand_stats(0.5, 0.6, 0.0, 0.2, 0.2, 0.0));
  EXPECT_EQ(tracker.steps(), 4);
  const Tensor rates = tracker.conflict_rates();
  EXPECT_DOUBLE_EQ(at(rates, 0, 1), 0.5);
  EXPECT_DOUBLE_EQ(at(rates, 1, 0), 0.5);
  EXPECT_DOUBLE_EQ(at(rates, 0, 2), 0.25);
  EXPECT_DOUBLE_EQ(at(rates, 1, 2), 0.0);
  EXPECT_DOUBLE_EQ(at(rates, 1, 1), 0.0);
  // 3 conflicts in 4 steps x 3 pairs.
  EXPECT_DOUBLE_EQ(tracker.conflict_rate(), 3.0 / 12.0);
  // The block conflicts in 3 of its 12 (step, pair) cases.
  ASSERT_EQ(tracker.block_conflict_rates().size(), 1u);
  EXPECT_DOUBLE_EQ(tracker.block_conflict_rates()[0], 3.0 / 12.0);
  const Tensor mean = tracker.mean_cosine();
  EXPECT_NEAR(at(mean, 0, 1), (-0.5 - 0.1 + 0.3 + 0.5) / 4, 1e-12);
  EXPECT_NEAR(at(mean, 2, 0), (0.2 + 0.4 - 0.6 + 0.6) / 4, 1e-12);
  EXPECT_NEAR(at(mean, 1, 1), 1.0, 1e-12);
  EXPECT_EQ(tracker.mean_norms(), (std::vector<double>{1.0, 2.0, 3.0}));

  const std::map<std::string, double> summary = tracker.summary();
  const std::map<std::string, double> expected = {
      {"cos.left.right", 0.05},     {"cos.left.extra", 0.15},       {"cos.right.extra", 0.15},
      {"conflict.left.right", 0.5}, {"conflict.left.extra", 0.25},  {"conflict.right.extra", 0.0},
      {"conflict_rate", 0.25},      {"conflict_rate.shared", 0.25}, {"grad_norm.left", 1.0},
      {"grad_norm.right", 2.0},     {"grad_norm.extra", 3.0}};
  ASSERT_EQ(summary.size(), expected.size());
  for (const auto& [key, value] : expected) {
    ASSERT_TRUE(summary.count(key)) << key;
    EXPECT_NEAR(summary.at(key), value, 1e-12) << key;
  }

  // A new epoch starts from nothing.
  tracker.reset();
  EXPECT_EQ(tracker.steps(), 0);
  EXPECT_TRUE(tracker.summary().empty());
  EXPECT_THROW(tracker.conflict_rate(), Error);
  EXPECT_THROW(tracker.mean_cosine(), Error);
  tracker.update(hand_stats(-0.5, -0.5, -0.5, 0.1, 0.1, 0.1, {"a", "b"}));  // other blocks are fine after a reset
  EXPECT_DOUBLE_EQ(tracker.conflict_rate(), 1.0);
  EXPECT_EQ(tracker.block_names(), (std::vector<std::string>{"a", "b"}));
}

TEST(MtlConflictTracker, FromComputedGradients) {
  ConflictTracker tracker({"a", "b"});
  tracker.update(gradient_stats(gradients_of({{1, 0, 0}, {-1, 0, 0}}, {{1, 1}, {1, 1}}), {"w", "b"}));
  tracker.update(gradient_stats(gradients_of({{1, 0, 0}, {-1, 0, 0}}, {{-1, 0}, {1, 0}}), {"w", "b"}));
  // Whole gradient: cos 1/3 then −1 (conflict once); block w conflicts twice, block b once.
  const auto summary = tracker.summary();
  EXPECT_NEAR(summary.at("cos.a.b"), (1.0 / 3.0 - 1.0) / 2, 1e-12);
  EXPECT_DOUBLE_EQ(summary.at("conflict.a.b"), 0.5);
  EXPECT_DOUBLE_EQ(summary.at("conflict_rate"), 0.5);
  EXPECT_DOUBLE_EQ(summary.at("conflict_rate.w"), 1.0);
  EXPECT_DOUBLE_EQ(summary.at("conflict_rate.b"), 0.5);
}

TEST(MtlConflictTracker, Errors) {
  EXPECT_THROW(ConflictTracker(std::vector<std::string>{}), Error);
  ConflictTracker tracker({"a", "b"});
  EXPECT_THROW(tracker.update(hand_stats(0.1, 0.1, 0.1, 0.1, 0.1, 0.1)), Error);  // 3 tasks for 2 names
  ConflictTracker three({"a", "b", "c"});
  three.update(hand_stats(0.1, 0.1, 0.1, 0.1, 0.1, 0.1));
  EXPECT_THROW(three.update(hand_stats(0.1, 0.1, 0.1, 0.1, 0.1, 0.1, {"other"})), Error);  // blocks changed
  EXPECT_EQ(three.steps(), 1);
  // A single task has no pairs: no conflicts.
  ConflictTracker one({"solo"});
  one.update(gradient_stats(gradients_of({{1, 2}})));
  EXPECT_DOUBLE_EQ(one.conflict_rate(), 0.0);
  EXPECT_EQ(one.summary().count("conflict_rate"), 1u);
}

TEST(MtlRelatedness, HandExample) {
  const Tensor y0 = tensor<int64_t>({0, 1, 2, 3});
  const Tensor y1 = tensor<int64_t>({0, 1, 0, 0});
  const Tensor y2 = tensor<int64_t>({0, 1, 2, 0});
  const Tensor R = mtl::relatedness({y0, y1, y2});
  EXPECT_EQ(R.sizes(), Dims({3, 3}));
  EXPECT_EQ(R.dtype(), kFloat64);
  EXPECT_EQ(R.reshape({-1}).to_vector<double>(), (std::vector<double>{1, 0.5, 0.75, 0.5, 1, 0.75, 0.75, 0.75, 1}));
  EXPECT_THROW(mtl::relatedness({}), Error);
  EXPECT_THROW(mtl::relatedness({y0, tensor<int64_t>({0, 1})}), Error);
  EXPECT_THROW(mtl::relatedness({y0, y1.to(kFloat32)}), Error);
  EXPECT_THROW(mtl::relatedness({y0.reshape({2, 2}), y1.reshape({2, 2})}), Error);
  EXPECT_THROW(mtl::relatedness({tensor<int64_t>(std::vector<int64_t>{})}), Error);
}

}  // namespace
