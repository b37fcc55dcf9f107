// Learning-rate schedulers: each schedule's lr sequence over several epochs against hand-written values and
// its closed form, applied per parameter group relative to each group's base lr, and ReduceLROnPlateau's
// patience, cooldown, threshold, mode and floor.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

#include "nn/optim/schedulers.h"
#include "nn/optim/sgd.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;
using namespace tandem::optim;

/// An SGD optimizer with two groups, lr 0.1 and 0.01 (discriminative learning rates).
struct TwoGroups {
  Tensor a = zeros({2}, kFloat64).requires_grad_(true);
  Tensor b = zeros({2}, kFloat64).requires_grad_(true);
  SGD opt{{OptimizerParamGroup({a}), OptimizerParamGroup({b}, OptionOverrides{{"lr", 0.01}})}, SGDOptions(0.1)};
  double lr(size_t g) { return opt.param_groups()[g].options().lr(); }
};

/// Steps the scheduler and checks group 0's lr against `expected` (epochs 0, 1, ...) and group 1 at a tenth.
void check_sequence(TwoGroups& setup, LRScheduler& scheduler, const std::vector<double>& expected) {
  for (size_t epoch = 0; epoch < expected.size(); ++epoch) {
    if (epoch > 0) scheduler.step();
    EXPECT_EQ(scheduler.last_epoch(), static_cast<int64_t>(epoch));
    EXPECT_NEAR(setup.lr(0), expected[epoch], 1e-15) << scheduler.name() << " epoch " << epoch;
    EXPECT_NEAR(setup.lr(1), expected[epoch] / 10, 1e-16) << scheduler.name() << " epoch " << epoch;
    ASSERT_EQ(scheduler.get_last_lr().size(), 2u);
    EXPECT_DOUBLE_EQ(scheduler.get_last_lr()[0], setup.lr(0));
    EXPECT_DOUBLE_EQ(scheduler.get_last_lr()[1], setup.lr(1));
  }
}

TEST(NnStepLR, Sequence) {
  TwoGroups s;
  StepLR sched(s.opt, /*step_size=*/3, /*gamma=*/0.5);
  EXPECT_EQ(sched.base_lrs(), (std::vector<double>{0.1, 0.01}));
  check_sequence(s, sched, {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125});
  for (int64_t e = 0; e < 20; ++e) EXPECT_DOUBLE_EQ(sched.lr_at(0.1, e), 0.1 * std::pow(0.5, e / 3));
}

TEST(NnMultiStepLR, Sequence) {
  TwoGroups s;
  MultiStepLR sched(s.opt, {5, 2}, 0.1);  // milestones need not be sorted
  check_sequence(s, sched, {0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001});
}

TEST(NnExponentialLR, Sequence) {
  TwoGroups s;
  ExponentialLR sched(s.opt, 0.9);
  check_sequence(s, sched, {0.1, 0.09, 0.081, 0.0729, 0.06561, 0.059049});
}

TEST(NnCosineAnnealingLR, Sequence) {
  TwoGroups s;
  CosineAnnealingLR sched(s.opt, /*T_max=*/4, /*eta_min=*/0.0);
  const double c = std::cos(std::numbers::pi / 4);
  // 0.1 * (1 + cos(pi e / 4)) / 2; after T_max the closed form climbs back.
  check_sequence(s, sched, {0.1, 0.05 * (1 + c), 0.05, 0.05 * (1 - c), 0.0, 0.05 * (1 - c), 0.05});
}

TEST(NnCosineAnnealingLR, EtaMin) {
  TwoGroups s;
  CosineAnnealingLR sched(s.opt, 10, 0.001);
  for (int e = 1; e <= 10; ++e) {
    sched.step();
    const double expected0 = 0.001 + (0.1 - 0.001) * (1 + std::cos(std::numbers::pi * e / 10)) / 2;
    const double expected1 = 0.001 + (0.01 - 0.001) * (1 + std::cos(std::numbers::pi * e / 10)) / 2;
    EXPECT_NEAR(s.lr(0), expected0, 1e-15);
    EXPECT_NEAR(s.lr(1), expected1, 1e-15);
  }
  EXPECT_NEAR(s.lr(0), 0.001, 1e-15);
  EXPECT_NEAR(s.lr(1), 0.001, 1e-15);
}

TEST(NnLinearWarmupCosineLR, Sequence) {
  TwoGroups s;
  LinearWarmupCosineLR sched(s.opt, /*warmup_steps=*/4, /*total_steps=*/8, /*warmup_start_factor=*/0.2);
  const double c = std::cos(std::numbers::pi / 4);
  check_sequence(s, sched,
                 {0.02, 0.04, 0.06, 0.08,                                      // 0.1 * (0.2 + 0.8 e / 4)
                  0.1, 0.05 * (1 + c), 0.05, 0.05 * (1 - c), 0.0, 0.0, 0.0});  // cosine from 0.1 to 0 at step 8
}

TEST(NnLinearWarmupCosineLR, EtaMinAndNoWarmup) {
  TwoGroups s;
  LinearWarmupCosineLR sched(s.opt, 0, 2, 0.0, 0.005);
  EXPECT_DOUBLE_EQ(s.lr(0), 0.1);
  sched.step();
  EXPECT_NEAR(s.lr(0), 0.005 + 0.095 / 2, 1e-15);
  EXPECT_NEAR(s.lr(1), 0.005 + 0.005 / 2, 1e-15);
  sched.step();
  sched.step();
  EXPECT_DOUBLE_EQ(s.lr(0), 0.005);
  EXPECT_DOUBLE_EQ(s.lr(1), 0.005);
}

TEST(NnSchedulers, LrsReachTheUpdates) {
  TwoGroups s;
  StepLR sched(s.opt, 1, 0.5);
  sched.step();  // lrs 0.05 and 0.005
  s.a.set_grad(ones({2}, kFloat64));
  s.b.set_grad(ones({2}, kFloat64));
  s.opt.step();
  EXPECT_DOUBLE_EQ(s.a.to_vector<double>()[0], -0.05);
  EXPECT_DOUBLE_EQ(s.b.to_vector<double>()[0], -0.005);
}

TEST(NnSchedulers, StateDictRoundTrip) {
  TwoGroups s;
  ExponentialLR sched(s.opt, 0.5);
  sched.step();
  sched.step();
  const auto dict = sched.state_dict();
  EXPECT_EQ(dict["last_epoch"].item<int64_t>(), 2);
  TwoGroups t;
  ExponentialLR resumed(t.opt, 0.5);
  resumed.load_state_dict(dict);
  EXPECT_EQ(resumed.last_epoch(), 2);
  resumed.step();
  sched.step();
  EXPECT_DOUBLE_EQ(t.lr(0), s.lr(0));
  EXPECT_DOUBLE_EQ(t.lr(1), s.lr(1));
  EXPECT_DOUBLE_EQ(t.lr(0), 0.1 * 0.125);
  nn::OrderedDict<Tensor> bad;
  bad.insert("last_epoch", scalar_tensor(1, kInt64));
  EXPECT_THROW(resumed.load_state_dict(bad), Error);  // no base_lrs
}

TEST(NnSchedulers, RejectInvalidArguments) {
  TwoGroups s;
  EXPECT_THROW(StepLR(s.opt, 0), Error);
  EXPECT_THROW(CosineAnnealingLR(s.opt, 0), Error);
  EXPECT_THROW(LinearWarmupCosineLR(s.opt, 5, 5), Error);
  EXPECT_THROW(LinearWarmupCosineLR(s.opt, -1, 5), Error);
  EXPECT_THROW(LinearWarmupCosineLR(s.opt, 1, 5, 1.5), Error);
  EXPECT_THROW(ReduceLROnPlateau(s.opt, ReduceLROnPlateauOptions().factor(1.0)), Error);
  EXPECT_THROW(ReduceLROnPlateau(s.opt, ReduceLROnPlateauOptions().patience(-1)), Error);
  // A group added after the scheduler was built has no base lr.
  StepLR sched(s.opt, 2);
  s.opt.add_param_group(OptimizerParamGroup({zeros({1}, kFloat64).requires_grad_(true)}));
  try {
    sched.step();
    ADD_FAILURE() << "expected tandem::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("StepLR: the optimizer has 3 parameter groups"), std::string::npos)
        << e.what();
  }
}

// ---- ReduceLROnPlateau ------------------------------------------------------------------------------------
/// Feeds the metrics and returns group 0's lr after each.
std::vector<double> plateau_lrs(const ReduceLROnPlateauOptions& options, const std::vector<double>& metrics,
                                std::vector<double>* group1 = nullptr) {
  TwoGroups s;
  ReduceLROnPlateau sched(s.opt, options);
  std::vector<double> lrs;
  for (double m : metrics) {
    sched.step(m);
    lrs.push_back(s.lr(0));
    EXPECT_DOUBLE_EQ(sched.get_last_lr()[0], s.lr(0));
    if (group1) group1->push_back(s.lr(1));
  }
  return lrs;
}

TEST(NnReduceLROnPlateau, Patience) {
  // Best 9 at epoch 2; epochs 3, 4, 5 are bad; the third bad epoch exceeds patience 2.
  std::vector<double> group1;
  const auto lrs = plateau_lrs(ReduceLROnPlateauOptions().patience(2).factor(0.5), {10, 9, 9, 9, 9, 9, 9, 9}, &group1);
  EXPECT_EQ(lrs, (std::vector<double>{0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025}));
  // Every group is reduced by the same factor.
  EXPECT_EQ(group1, (std::vector<double>{0.01, 0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.0025}));
}

TEST(NnReduceLROnPlateau, Cooldown) {
  // Reduction at epoch 5 starts a cooldown of 2 epochs (6, 7) whose bad epochs do not count; 8, 9, 10 are bad.
  const auto lrs =
      plateau_lrs(ReduceLROnPlateauOptions().patience(2).factor(0.5).cooldown(2), {10, 9, 9, 9, 9, 9, 9, 9, 9, 9});
  EXPECT_EQ(lrs, (std::vector<double>{0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.025}));
}

TEST(NnReduceLROnPlateau, ImprovementResetsTheCount) {
  const auto lrs = plateau_lrs(ReduceLROnPlateauOptions().patience(1).factor(0.5), {5, 6, 4, 6, 6, 3});
  // bad: epoch 2 (1), epoch 3 improves, epochs 4, 5 bad -> reduce at 5, epoch 6 improves.
  EXPECT_EQ(lrs, (std::vector<double>{0.1, 0.1, 0.1, 0.1, 0.05, 0.05}));
}

TEST(NnReduceLROnPlateau, RelativeThreshold) {
  // With threshold 0.1 (rel), 9.5 is not an improvement on 10 (needs < 9); 8.9 is.
  TwoGroups s;
  ReduceLROnPlateau sched(s.opt, ReduceLROnPlateauOptions().patience(5).threshold(0.1));
  sched.step(10);
  sched.step(9.5);
  EXPECT_DOUBLE_EQ(sched.best(), 10);
  EXPECT_EQ(sched.num_bad_epochs(), 1);
  sched.step(8.9);
  EXPECT_DOUBLE_EQ(sched.best(), 8.9);
  EXPECT_EQ(sched.num_bad_epochs(), 0);
}

TEST(NnReduceLROnPlateau, AbsoluteThreshold) {
  TwoGroups s;
  ReduceLROnPlateau sched(
      s.opt, ReduceLROnPlateauOptions().threshold(0.5).threshold_mode(ReduceLROnPlateau::ThresholdMode::abs));
  sched.step(10);
  sched.step(9.6);  // needs < 9.5
  EXPECT_EQ(sched.num_bad_epochs(), 1);
  sched.step(9.4);
  EXPECT_EQ(sched.num_bad_epochs(), 0);
}

TEST(NnReduceLROnPlateau, MaxModeAndMinLr) {
  // Accuracy-like metric: higher is better. min_lr 0.03 floors group 0 (0.1 -> 0.03) and group 1 (0.01 stays,
  // since max(0.001, 0.03) > 0.01 would raise it: PyTorch's rule only applies reductions).
  std::vector<double> group1;
  const auto lrs = plateau_lrs(ReduceLROnPlateauOptions().mode(ReduceLROnPlateau::Mode::max).patience(0).min_lr(0.03),
                               {0.5, 0.6, 0.6, 0.55}, &group1);
  EXPECT_EQ(lrs, (std::vector<double>{0.1, 0.1, 0.03, 0.03}));
  EXPECT_EQ(group1, (std::vector<double>{0.01, 0.01, 0.01, 0.01}));
}

TEST(NnReduceLROnPlateau, StateDictRoundTrip) {
  TwoGroups s;
  ReduceLROnPlateau sched(s.opt, ReduceLROnPlateauOptions().patience(3).cooldown(1));
  for (double m : {4.0, 3.0, 3.5, 3.5}) sched.step(m);
  TwoGroups t;
  ReduceLROnPlateau resumed(t.opt, ReduceLROnPlateauOptions().patience(3).cooldown(1));
  resumed.load_state_dict(sched.state_dict());
  EXPECT_DOUBLE_EQ(resumed.best(), 3.0);
  EXPECT_EQ(resumed.num_bad_epochs(), 2);
  EXPECT_EQ(resumed.last_epoch(), 4);
  for (double m : {3.5, 3.5}) {
    sched.step(m);
    resumed.step(m);
  }
  EXPECT_DOUBLE_EQ(s.lr(0), 0.01);
  EXPECT_DOUBLE_EQ(t.lr(0), 0.01);
  EXPECT_THROW(sched.step(std::nan("")), Error);
}

}  // namespace
