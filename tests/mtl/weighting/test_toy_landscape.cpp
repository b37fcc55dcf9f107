// The CAGrad toy problem: its losses against the paper's formulas, its gradients against finite differences,
// the model interface, and the methods' runs on it — near-Pareto-stationary ends from the paper's starting
// points, and CAGrad ending with a lower average loss than MGDA from the hard start.
//
// The paper runs Adam for 100 000 steps at lr 1e-3 (about 6 s per run here); these tests use lr 1e-2 and a few
// thousand steps so that the binary stays fast. From (−8.5, −5) every method reaches the front quickly; from the
// two upper starts, methods that behave like the mean gradient there (PCGrad, CAGrad, GradVac, UPGrad: the
// tasks do not conflict in the upper valleys) crawl along the valley as plain Adam does in the paper's
// Figure 1, so only the methods that leave it at once are checked from those starts.
#include <gtest/gtest.h>
#include <tandem.h>

#include <cmath>

#include "mtl/data/toy_landscape.h"

namespace {

using namespace tandem;
using namespace tandem::mtl;

/// The paper's definition written with std:: functions.
std::array<double, 2> reference_losses(double x, double y) {
  const double h1 = std::log(std::max(std::abs(0.5 * (-x - 7) - std::tanh(-y)), 5e-6)) + 6;
  const double h2 = std::log(std::max(std::abs(0.5 * (-x + 3) + std::tanh(-y) + 2), 5e-6)) + 6;
  const double q1 = ((-x + 7) * (-x + 7) + 0.1 * (-y - 8) * (-y - 8)) / 10 - 20;
  const double q2 = ((-x - 7) * (-x - 7) + 0.1 * (-y - 8) * (-y - 8)) / 10 - 20;
  const double c1 = std::max(std::tanh(y / 2), 0.0), c2 = std::max(std::tanh(-y / 2), 0.0);
  return {c1 * h1 + c2 * q1, c1 * h2 + c2 * q2};
}

TEST(ToyLandscape, LossesFollowThePaper) {
  // Hand values: at the origin both weights c1, c2 vanish; at (0, −8) the bowls give −15.1 · tanh(4).
  auto at_origin = ToyLandscapeImpl::losses_at(0.0, 0.0);
  EXPECT_DOUBLE_EQ(at_origin[0], 0.0);
  EXPECT_DOUBLE_EQ(at_origin[1], 0.0);
  auto bowl = ToyLandscapeImpl::losses_at(0.0, -8.0);
  EXPECT_NEAR(bowl[0], -15.1 * std::tanh(4.0), 1e-12);
  EXPECT_NEAR(bowl[1], -15.1 * std::tanh(4.0), 1e-12);
  for (const auto& [x, y] : std::vector<std::pair<double, double>>{{1.0, 2.0}, {-8.5, 7.5}, {9.0, 9.0}, {-8.5, -5.0},
                                                                   {-3.0, 0.7}, {4.0, -1.0}}) {
    const auto got = ToyLandscapeImpl::losses_at(x, y);
    const auto expected = reference_losses(x, y);
    EXPECT_NEAR(got[0], expected[0], 1e-12) << x << ", " << y;
    EXPECT_NEAR(got[1], expected[1], 1e-12) << x << ", " << y;
  }
}

TEST(ToyLandscape, GradientsMatchFiniteDifferences) {
  const double h = 1e-6;
  for (const auto& [x, y] : std::vector<std::pair<double, double>>{{1.0, 2.0}, {-8.5, 7.5}, {9.0, 9.0}, {-8.5, -5.0}}) {
    const auto g = ToyLandscapeImpl::gradients_at(x, y);
    for (size_t t = 0; t < 2; ++t) {
      const double dx = (reference_losses(x + h, y)[t] - reference_losses(x - h, y)[t]) / (2 * h);
      const double dy = (reference_losses(x, y + h)[t] - reference_losses(x, y - h)[t]) / (2 * h);
      EXPECT_NEAR(g[t][0], dx, 1e-6) << x << ", " << y;
      EXPECT_NEAR(g[t][1], dy, 1e-6) << x << ", " << y;
    }
  }
  // On the Pareto set the two gradients are opposite: the point (0, −8.3552) is Pareto-stationary.
  EXPECT_LT(toy_landscape_stationarity(0.0, -8.3552), 1e-3);
  EXPECT_GT(toy_landscape_stationarity(-8.5, -5.0), 0.1);
}

TEST(ToyLandscape, IsATwoTaskModelWithOneSharedParameter) {
  ToyLandscape toy(-8.5, 7.5);
  EXPECT_EQ(toy->num_tasks(), 2u);
  EXPECT_TRUE(toy->task_parameters(0).empty());
  EXPECT_TRUE(toy->task_parameters(1).empty());
  ASSERT_EQ(toy->shared_parameters().size(), 1u);
  EXPECT_TRUE(toy->shared_parameters()[0].is_same(toy->theta));
  EXPECT_EQ(toy->theta.to_vector<double>(), std::vector<double>({-8.5, 7.5}));
  const auto losses = toy->forward(Tensor());
  ASSERT_EQ(losses.size(), 2u);
  EXPECT_EQ(losses[0].numel(), 1);
  EXPECT_NEAR(losses[1].item<double>(), reference_losses(-8.5, 7.5)[1], 1e-12);
  EXPECT_THROW(toy->task_parameters(2), Error);
  EXPECT_THROW(ToyLandscapeImpl::losses(zeros({3}, kFloat64)), Error);
  EXPECT_EQ(toy_landscape_starts().size(), 3u);
}

TEST(ToyLandscape, TrajectoryRecordsEveryStep) {
  auto ew = make_weighting("ew", 2);
  const ToyTrajectory path = run_toy_landscape(*ew, {-8.5, -5.0}, 10, 1e-3, 3);
  ASSERT_EQ(path.points.size(), 5u);  // the start, steps 3, 6, 9 and the last
  EXPECT_EQ(path.points.front(), (std::array<double, 2>{-8.5, -5.0}));
  // Adam's first step moves each coordinate by about lr against the sign of its gradient.
  const ToyTrajectory one = run_toy_landscape(*make_weighting("ew", 2), {-8.5, -5.0}, 1);
  const auto g = ToyLandscapeImpl::gradients_at(-8.5, -5.0);
  for (size_t i = 0; i < 2; ++i)
    EXPECT_NEAR(one.final_point()[i], path.points[0][i] - 1e-3 * ((g[0][i] + g[1][i]) > 0 ? 1 : -1), 1e-8);
  EXPECT_EQ(one.final_losses(), ToyLandscapeImpl::losses_at(one.final_point()[0], one.final_point()[1]));
  EXPECT_THROW(run_toy_landscape(*make_weighting("ew", 3), {0.0, 0.0}, 1), Error);
  EXPECT_THROW(run_toy_landscape(*ew, {0.0, 0.0}, 1, 1e-3, 0), Error);
  // Methods on the representation have none to work on here; DB-MTL needs positive losses.
  EXPECT_THROW(run_toy_landscape(*make_weighting("graddrop", 2), {0.0, 0.0}, 1), Error);
  EXPECT_THROW(run_toy_landscape(*make_weighting("db_mtl", 2), {-8.5, -5.0}, 1), Error);
}

TEST(ToyLandscape, EveryMethodEndsNearParetoStationaryAndCAGradBeatsMGDAOnAverage) {
  // From (−8.5, −5), the paper's hard start for MGDA: it stops at the first Pareto-stationary point it meets,
  // near the end x = −7 of the front, while CAGrad keeps the average loss in view and reaches the middle.
  const std::array<double, 2> hard_start = {-8.5, -5.0};
  std::map<std::string, ToyTrajectory> ends;
  for (const std::string method : {"mgda", "pcgrad", "cagrad", "gradvac", "imtl", "aligned_mtl", "nash_mtl", "upgrad"}) {
    manual_seed(0);
    auto weighting = make_weighting(method, 2);
    ends[method] = run_toy_landscape(*weighting, hard_start, 2500, 1e-2, 2500);
    const auto p = ends[method].final_point();
    EXPECT_LT(toy_landscape_stationarity(p[0], p[1]), 1e-2) << method << " ends at " << p[0] << ", " << p[1];
    EXPECT_NEAR(p[1], -8.4, 0.1) << method;  // on the front
  }
  auto average = [&](const std::string& m) { return 0.5 * (ends[m].final_losses()[0] + ends[m].final_losses()[1]); };
  EXPECT_LT(average("cagrad"), average("mgda") - 3.0);
  // CAGrad approaches the middle of the front, where the average loss is lowest (−15.09 at x = 0).
  EXPECT_NEAR(ends["cagrad"].final_point()[0], 0.0, 0.5);
  EXPECT_LT(average("cagrad"), -15.0);
  EXPECT_LT(ends["mgda"].final_point()[0], -6.5);
}

TEST(ToyLandscape, MethodsThatLeaveTheUpperValleysEndNearParetoStationary) {
  for (const std::array<double, 2> start : {std::array<double, 2>{-8.5, 7.5}, std::array<double, 2>{9.0, 9.0}}) {
    for (const std::string method : {"mgda", "imtl", "aligned_mtl", "nash_mtl"}) {
      manual_seed(0);
      auto weighting = make_weighting(method, 2);
      const auto p = run_toy_landscape(*weighting, start, 3000, 1e-2, 3000).final_point();
      EXPECT_LT(toy_landscape_stationarity(p[0], p[1]), 5e-2)
          << method << " from " << start[0] << ", " << start[1] << " ends at " << p[0] << ", " << p[1];
    }
  }
}

}  // namespace
