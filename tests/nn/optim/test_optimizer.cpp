// The optimizer base: parameter groups (own options, inherited defaults, overrides of the learning rate and the
// weight decay, add_param_group), skipping parameters without gradients, zero_grad, state indexing, state_dict /
// load_state_dict (keys, bit-exact continuation, errors that name the key), step with a closure, and an
// end-to-end check that every optimizer minimises a least-squares problem.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/optim/optim_test_util.h"
#include "nn/optim/adagrad.h"
#include "nn/optim/adam.h"
#include "nn/optim/rmsprop.h"
#include "nn/optim/sgd.h"
#include "nn/modules/linear.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;
using namespace tandem::optim;
using namespace tandem::optim_test;

// ---- parameter groups ------------------------------------------------------------------------------------
TEST(NnOptimizer, ParamGroupsWithDifferentLearningRates) {
  Tensor a = param_of({1.0}), b = param_of({1.0}), c = param_of({1.0});
  std::vector<OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<Tensor>{a});                                 // the defaults
  groups.emplace_back(std::vector<Tensor>{b}, OptionOverrides{{"lr", 0.01}});  // defaults except lr
  groups.emplace_back(std::vector<Tensor>{c}, SGDOptions(0.5));                // options of its own
  SGD opt(groups, SGDOptions(0.1).momentum(0.9));
  ASSERT_EQ(opt.param_groups().size(), 3u);
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].options().lr(), 0.1);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].options().lr(), 0.01);
  EXPECT_DOUBLE_EQ(opt.param_groups()[2].options().lr(), 0.5);
  // The override group inherits the other defaults; the group with its own options does not.
  const auto& inherited = dynamic_cast<const SGDOptions&>(opt.param_groups()[1].options());
  const auto& own = dynamic_cast<const SGDOptions&>(opt.param_groups()[2].options());
  EXPECT_DOUBLE_EQ(inherited.momentum(), 0.9);
  EXPECT_DOUBLE_EQ(own.momentum(), 0.0);

  for (Tensor* p : {&a, &b, &c}) p->set_grad(tensor(std::vector<double>{2.0}, kFloat64));
  opt.step();
  EXPECT_DOUBLE_EQ(a.item<double>(), 1.0 - 0.1 * 2.0);
  EXPECT_DOUBLE_EQ(b.item<double>(), 1.0 - 0.01 * 2.0);
  EXPECT_DOUBLE_EQ(c.item<double>(), 1.0 - 0.5 * 2.0);

  // The lr can be changed through the base interface (what schedulers do).
  opt.param_groups()[0].options().lr(0.2);
  EXPECT_DOUBLE_EQ(dynamic_cast<const SGDOptions&>(opt.param_groups()[0].options()).lr(), 0.2);
}

TEST(NnOptimizer, ParamGroupsWithDifferentWeightDecay) {
  // SGD: p = p - lr * (g + wd * p), each group with its own lr and weight decay.
  Tensor a = param_of({1.0, -2.0}), b = param_of({1.0, -2.0}), c = param_of({1.0, -2.0});
  SGD sgd({OptimizerParamGroup({a}),                                                      // lr 0.1, wd 0.5
           OptimizerParamGroup({b}, OptionOverrides{{"weight_decay", 0.0}, {"lr", 0.2}}),  // lr 0.2, no decay
           OptimizerParamGroup({c}, SGDOptions(0.05).weight_decay(2.0))},                 // its own options
          SGDOptions(0.1).weight_decay(0.5));
  for (Tensor* p : {&a, &b, &c}) p->set_grad(tensor(std::vector<double>{0.4, 0.4}, kFloat64));
  sgd.step();
  expect_values(a, {1.0 - 0.1 * (0.4 + 0.5 * 1.0), -2.0 - 0.1 * (0.4 - 0.5 * 2.0)}, "group 0");
  expect_values(b, {1.0 - 0.2 * 0.4, -2.0 - 0.2 * 0.4}, "group 1");
  expect_values(c, {1.0 - 0.05 * (0.4 + 2.0 * 1.0), -2.0 - 0.05 * (0.4 - 2.0 * 2.0)}, "group 2");

  // AdamW: the decoupled decay p * (1 - lr * wd) uses each group's own lr and weight decay; the first Adam step
  // then moves each coordinate by lr * g / (|g| + eps).
  Tensor d = param_of({2.0}), e = param_of({2.0});
  AdamW adamw({OptimizerParamGroup({d}), OptimizerParamGroup({e}, OptionOverrides{{"weight_decay", 0.0}})},
              AdamWOptions(0.1).weight_decay(0.25));
  d.set_grad(tensor(std::vector<double>{-0.5}, kFloat64));
  e.set_grad(tensor(std::vector<double>{-0.5}, kFloat64));
  adamw.step();
  const double adam_move = 0.1 * 0.5 / (0.5 + 1e-8);
  expect_values(d, {2.0 * (1 - 0.1 * 0.25) + adam_move}, "AdamW group with decay");
  expect_values(e, {2.0 + adam_move}, "AdamW group without decay");
  EXPECT_DOUBLE_EQ(dynamic_cast<const AdamWOptions&>(adamw.param_groups()[1].options()).weight_decay(), 0.0);
  EXPECT_DOUBLE_EQ(dynamic_cast<const AdamWOptions&>(adamw.param_groups()[0].options()).weight_decay(), 0.25);
}

TEST(NnOptimizer, AdamParamGroupsKeepSeparateOptions) {
  Tensor a = param_of({1.0, 2.0}), b = param_of({1.0, 2.0});
  Adam opt({OptimizerParamGroup({a}, OptionOverrides{{"lr", 1e-4}, {"beta1", 0.5}}), OptimizerParamGroup({b})},
           AdamOptions(1e-2));
  const auto& g0 = dynamic_cast<const AdamOptions&>(opt.param_groups()[0].options());
  const auto& g1 = dynamic_cast<const AdamOptions&>(opt.param_groups()[1].options());
  EXPECT_DOUBLE_EQ(g0.lr(), 1e-4);
  EXPECT_DOUBLE_EQ(std::get<0>(g0.betas()), 0.5);
  EXPECT_DOUBLE_EQ(g1.lr(), 1e-2);
  EXPECT_DOUBLE_EQ(std::get<0>(g1.betas()), 0.9);
  a.set_grad(ones({2}, kFloat64));
  b.set_grad(ones({2}, kFloat64));
  opt.step();
  // Adam's first step is lr * g / (|g| + eps) whatever the betas.
  EXPECT_NEAR(a.to_vector<double>()[0], 1.0 - 1e-4 / (1 + 1e-8), 1e-14);
  EXPECT_NEAR(b.to_vector<double>()[0], 1.0 - 1e-2 / (1 + 1e-8), 1e-14);
}

TEST(NnOptimizer, AddParamGroupAndStateIndices) {
  Tensor a = param_of({1.0}), b = param_of({2.0, 3.0}), c = param_of({4.0});
  Adam opt({a, b}, AdamOptions(0.1));
  opt.add_param_group(OptimizerParamGroup({c}, OptionOverrides{{"lr", 0.01}}));
  ASSERT_EQ(opt.param_groups().size(), 2u);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].options().lr(), 0.01);
  EXPECT_EQ(opt.parameters().size(), 3u);
  // Only b and c have gradients: state exists for positions 1 and 2.
  b.set_grad(ones({2}, kFloat64));
  c.set_grad(ones({1}, kFloat64));
  opt.step();
  EXPECT_EQ(opt.state().count(0), 0u);
  ASSERT_EQ(opt.state().count(1), 1u);
  ASSERT_EQ(opt.state().count(2), 1u);
  EXPECT_EQ(opt.state().at(1)["exp_avg"].sizes(), Dims({2}));
  EXPECT_EQ(opt.state().at(2).step(), 1);
  EXPECT_NEAR(c.item<double>(), 4.0 - 0.01, 1e-9);
}

TEST(NnOptimizer, ParametersWithoutGradientAreSkipped) {
  Tensor a = param_of({1.0, 2.0}), frozen = param_of({3.0, 4.0});
  SGD opt({a, frozen}, SGDOptions(0.1).momentum(0.9));
  a.set_grad(ones({2}, kFloat64));
  opt.step();
  opt.step();
  EXPECT_EQ(frozen.to_vector<double>(), (std::vector<double>{3.0, 4.0}));
  EXPECT_EQ(opt.state().count(1), 0u);
  EXPECT_EQ(opt.state().at(0).step(), 2);
  EXPECT_NEAR(a.to_vector<double>()[0], 1.0 - 0.1 - 0.1 * 1.9, 1e-12);
}

TEST(NnOptimizer, ZeroGrad) {
  Tensor a = param_of({1.0, 2.0}), b = param_of({3.0});
  SGD opt({a, b}, SGDOptions(0.1));
  a.set_grad(tensor(std::vector<double>{5.0, 6.0}, kFloat64));
  opt.zero_grad(/*set_to_none=*/false);
  ASSERT_TRUE(a.grad().defined());
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.0, 0.0}));
  EXPECT_FALSE(b.grad().defined());
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  // After a real backward pass too.
  Tensor loss = (a * a).sum();
  loss.backward();
  ASSERT_TRUE(a.grad().defined());
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{2.0, 4.0}));
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
}

TEST(NnOptimizer, StepWithClosureReturnsTheLoss) {
  Tensor x = param_of({3.0});
  SGD opt({x}, SGDOptions(0.25));
  auto closure = [&] {
    opt.zero_grad();
    Tensor loss = (x * x).sum();
    loss.backward();
    return loss;
  };
  Tensor loss = opt.step(closure);
  ASSERT_TRUE(loss.defined());
  EXPECT_DOUBLE_EQ(loss.item<double>(), 9.0);
  EXPECT_DOUBLE_EQ(x.item<double>(), 3.0 - 0.25 * 6.0);
  EXPECT_FALSE(opt.step().defined());
}

TEST(NnOptimizer, RejectsBadParameterLists) {
  Tensor a = param_of({1.0});
  expect_error_mentioning([&] { SGD opt({a, a}, SGDOptions(0.1)); }, {"SGD", "more than one"});
  expect_error_mentioning([&] { SGD opt({a * 2.0}, SGDOptions(0.1)); }, {"SGD", "non-leaf"});
  expect_error_mentioning(
      [&] {
        SGD opt({tensor(std::vector<int64_t>{1, 2})}, SGDOptions(0.1));
      },
      {"SGD", "floating", "int64"});
  expect_error_mentioning([&] { SGD opt({Tensor()}, SGDOptions(0.1)); }, {"SGD", "undefined"});
  expect_error_mentioning(
      [&] {
        SGD opt({OptimizerParamGroup({a}, OptionOverrides{{"learning_rate", 0.1}})}, SGDOptions(0.1));
      },
      {"SGD", "learning_rate"});
  expect_error_mentioning(
      [&] {
        SGD opt({OptimizerParamGroup({a}, OptionOverrides{{"lr", -1.0}})}, SGDOptions(0.1));
      },
      {"SGD", "learning rate", "-1"});
  expect_error_mentioning([&] { SGD opt({OptimizerParamGroup({a}, AdamOptions(0.1))}, SGDOptions(0.1)); },
                          {"SGD", "another optimizer"});
  SGD opt({a}, SGDOptions(0.1));
  expect_error_mentioning([&] { opt.add_param_group(OptimizerParamGroup({a})); }, {"SGD", "more than one"});
  EXPECT_EQ(opt.param_groups().size(), 1u);
}

// ---- state_dict -------------------------------------------------------------------------------------------
TEST(NnOptimizer, StateDictKeys) {
  Tensor a = param_of({1.0, 2.0}), b = param_of({3.0});
  Adam opt({OptimizerParamGroup({a}), OptimizerParamGroup({b}, OptionOverrides{{"lr", 0.5}})},
           AdamOptions(0.1).amsgrad(true));
  a.set_grad(ones({2}, kFloat64));
  opt.step();
  const auto dict = opt.state_dict();
  const std::vector<std::string> expected = {
      "param_groups.0.lr",           "param_groups.0.beta1",   "param_groups.0.beta2",  "param_groups.0.eps",
      "param_groups.0.weight_decay", "param_groups.0.amsgrad", "param_groups.0.params", "param_groups.1.lr",
      "param_groups.1.beta1",        "param_groups.1.beta2",   "param_groups.1.eps",    "param_groups.1.weight_decay",
      "param_groups.1.amsgrad",      "param_groups.1.params",  "state.0.step",          "state.0.exp_avg",
      "state.0.exp_avg_sq",          "state.0.max_exp_avg_sq"};
  EXPECT_EQ(dict.keys(), expected);
  EXPECT_EQ(dict["param_groups.1.lr"].dtype(), kFloat64);
  EXPECT_EQ(dict["param_groups.1.lr"].dim(), 0);
  EXPECT_DOUBLE_EQ(dict["param_groups.1.lr"].item<double>(), 0.5);
  EXPECT_DOUBLE_EQ(dict["param_groups.0.amsgrad"].item<double>(), 1.0);
  EXPECT_EQ(dict["param_groups.1.params"].to_vector<int64_t>(), (std::vector<int64_t>{1}));
  EXPECT_EQ(dict["state.0.step"].dtype(), kInt64);
  EXPECT_EQ(dict["state.0.step"].item<int64_t>(), 1);
  // The dict holds copies: stepping again does not change it.
  const auto before = dict["state.0.exp_avg"].to_vector<double>();
  opt.step();
  EXPECT_EQ(dict["state.0.exp_avg"].to_vector<double>(), before);
}

/// Trains `make(params)` for 3 steps, saves, continues 3 more steps; a fresh optimizer on a copy of the
/// parameters loads the saved dict and does the same 3 steps. Both must agree bit for bit.
void check_round_trip(const std::function<std::unique_ptr<Optimizer>(const std::vector<Tensor>&)>& make) {
  manual_seed(7);
  std::vector<Tensor> params = {randn({3, 4}), randn({5})};
  std::vector<std::vector<Tensor>> grads;
  for (int s = 0; s < 6; ++s) grads.push_back({randn({3, 4}), randn({5})});
  for (auto& p : params) p.requires_grad_(true);

  auto opt = make(params);
  auto run = [&](Optimizer& o, std::vector<Tensor>& ps, int from, int to) {
    for (int s = from; s < to; ++s) {
      for (size_t i = 0; i < ps.size(); ++i) ps[i].set_grad(grads[static_cast<size_t>(s)][i].clone());
      o.step();
    }
  };
  run(*opt, params, 0, 3);
  const auto saved = opt->state_dict();
  std::vector<Tensor> resumed;
  for (auto& p : params) {
    Tensor copy = p.detach().clone();
    copy.requires_grad_(true);
    resumed.push_back(copy);
  }
  run(*opt, params, 3, 6);

  auto fresh = make(resumed);
  fresh->load_state_dict(saved);
  run(*fresh, resumed, 3, 6);
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_EQ(params[i].to_vector<float>(), resumed[i].to_vector<float>()) << fresh->name() << " parameter " << i;
  EXPECT_EQ(opt->state_dict().keys(), fresh->state_dict().keys());
}

TEST(NnOptimizer, StateDictRoundTripContinuesBitExactly) {
  check_round_trip([](const std::vector<Tensor>& p) {
    return std::make_unique<SGD>(p, SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(1e-2));
  });
  check_round_trip([](const std::vector<Tensor>& p) {
    return std::make_unique<Adam>(p, AdamOptions(1e-2).amsgrad(true).weight_decay(1e-3));
  });
  check_round_trip([](const std::vector<Tensor>& p) {
    return std::make_unique<AdamW>(p, AdamWOptions(1e-2).betas({0.8, 0.95}));
  });
  check_round_trip([](const std::vector<Tensor>& p) {
    return std::make_unique<RMSprop>(p, RMSpropOptions(1e-2).momentum(0.5).centered(true));
  });
  check_round_trip([](const std::vector<Tensor>& p) {
    return std::make_unique<Adagrad>(p, AdagradOptions(1e-1).lr_decay(0.01).initial_accumulator_value(0.1));
  });
}

/// Trains a Linear in float32 for three steps, moves it to float64 with Module::to and trains on: the state must
/// follow the parameters (Adam's moments, momentum buffers... become float64) and give exactly what a fresh
/// optimizer loaded from the float32 state gives on a float64 copy of the model.
void check_state_follows_the_model(const std::function<std::unique_ptr<Optimizer>(const std::vector<Tensor>&)>& make) {
  manual_seed(11);
  nn::Linear net(4, 3);
  std::vector<std::vector<Tensor>> grads;
  for (int s = 0; s < 6; ++s) grads.push_back({randn({3, 4}), randn({3})});
  auto run = [&](Optimizer& o, std::vector<Tensor> ps, int from, int to) {
    for (int s = from; s < to; ++s) {
      for (size_t i = 0; i < ps.size(); ++i) ps[i].set_grad(grads[static_cast<size_t>(s)][i].to(ps[i].dtype()));
      o.step();
    }
  };
  auto opt = make(net->parameters());
  run(*opt, net->parameters(), 0, 3);
  const auto saved = opt->state_dict();
  auto twin = std::dynamic_pointer_cast<nn::LinearImpl>(net->clone());
  ASSERT_NE(twin, nullptr);

  net->to(kFloat64);
  twin->to(kFloat64);
  run(*opt, net->parameters(), 3, 6);
  auto fresh = make(twin->parameters());
  fresh->load_state_dict(saved);
  run(*fresh, twin->parameters(), 3, 6);

  for (const auto& [index, state] : opt->state()) {
    for (const auto& [name, buffer] : state.buffers()) {
      if (buffer.is_floating_point()) {
        EXPECT_EQ(buffer.dtype(), kFloat64) << opt->name() << " state " << name;
      }
    }
  }
  const auto moved = net->parameters(), reference = twin->parameters();
  for (size_t i = 0; i < moved.size(); ++i) {
    ASSERT_EQ(moved[i].dtype(), kFloat64);
    EXPECT_EQ(moved[i].to_vector<double>(), reference[i].to_vector<double>()) << opt->name() << " parameter " << i;
  }
}

TEST(NnOptimizer, StateFollowsAModelMovedToAnotherDtype) {
  check_state_follows_the_model([](const std::vector<Tensor>& p) {
    return std::make_unique<SGD>(p, SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(1e-2));
  });
  check_state_follows_the_model([](const std::vector<Tensor>& p) {
    return std::make_unique<Adam>(p, AdamOptions(1e-2).amsgrad(true));
  });
  check_state_follows_the_model([](const std::vector<Tensor>& p) {
    return std::make_unique<AdamW>(p, AdamWOptions(1e-2));
  });
  check_state_follows_the_model([](const std::vector<Tensor>& p) {
    return std::make_unique<RMSprop>(p, RMSpropOptions(1e-2).momentum(0.5).centered(true));
  });
  check_state_follows_the_model([](const std::vector<Tensor>& p) {
    return std::make_unique<Adagrad>(p, AdagradOptions(1e-1));
  });
}

TEST(NnOptimizer, LoadStateDictRestoresGroupOptions) {
  Tensor a = param_of({1.0}), b = param_of({1.0});
  SGD source({OptimizerParamGroup({a}), OptimizerParamGroup({b}, OptionOverrides{{"lr", 0.03}})},
             SGDOptions(0.1).momentum(0.9));
  source.param_groups()[0].options().lr(0.07);
  Tensor c = param_of({1.0}), d = param_of({1.0});
  SGD target({OptimizerParamGroup({c}), OptimizerParamGroup({d})}, SGDOptions(0.5));
  target.load_state_dict(source.state_dict());
  const auto& g0 = dynamic_cast<const SGDOptions&>(target.param_groups()[0].options());
  const auto& g1 = dynamic_cast<const SGDOptions&>(target.param_groups()[1].options());
  EXPECT_DOUBLE_EQ(g0.lr(), 0.07);
  EXPECT_DOUBLE_EQ(g1.lr(), 0.03);
  EXPECT_DOUBLE_EQ(g1.momentum(), 0.9);
}

TEST(NnOptimizer, LoadStateDictErrorsNameTheKey) {
  Tensor a = param_of({1.0, 2.0}), b = param_of({3.0});
  Adam source({a, b}, AdamOptions(0.1));
  a.set_grad(ones({2}, kFloat64));
  source.step();
  const auto good = source.state_dict();

  Tensor c = param_of({1.0, 2.0}), d = param_of({3.0});
  Adam target({c, d}, AdamOptions(0.2));
  auto without = [&](const std::string& skip) {
    nn::OrderedDict<Tensor> dict;
    for (const auto& [k, v] : good)
      if (k != skip) dict.insert(k, v);
    return dict;
  };
  auto with = [&](const std::string& key, const Tensor& value) {
    nn::OrderedDict<Tensor> dict;
    for (const auto& [k, v] : good) dict.insert(k, k == key ? value : v);
    if (!dict.contains(key)) dict.insert(key, value);
    return dict;
  };
  expect_error_mentioning([&] { target.load_state_dict(without("param_groups.0.eps")); },
                          {"Adam::load_state_dict", "missing key 'param_groups.0.eps'"});
  expect_error_mentioning([&] { target.load_state_dict(with("state.0.exp_avg", zeros({3}, kFloat64))); },
                          {"'state.0.exp_avg' has shape [3]", "parameter 0 has shape [2]"});
  expect_error_mentioning(
      [&] { target.load_state_dict(with("param_groups.0.momentum", scalar_tensor(0.9, kFloat64))); },
      {"unexpected key 'param_groups.0.momentum'"});
  expect_error_mentioning([&] { target.load_state_dict(with("state.0.momentum_buffer", zeros({2}, kFloat64))); },
                          {"unexpected key 'state.0.momentum_buffer'"});
  expect_error_mentioning([&] { target.load_state_dict(with("state.5.exp_avg", zeros({2}, kFloat64))); },
                          {"'state.5.exp_avg'", "2 parameters"});
  expect_error_mentioning([&] { target.load_state_dict(with("param_groups.1.lr", scalar_tensor(0.1, kFloat64))); },
                          {"2 parameter groups", "has 1"});
  expect_error_mentioning(
      [&] { target.load_state_dict(with("param_groups.0.params", tensor(std::vector<int64_t>{0}))); },
      {"'param_groups.0.params' lists 1 parameters", "has 2"});
  expect_error_mentioning([&] { target.load_state_dict(with("param_groups.0.lr", zeros({2}, kFloat64))); },
                          {"'param_groups.0.lr' must hold one value"});
  expect_error_mentioning([&] { target.load_state_dict(with("param_groups.0.lr", scalar_tensor(-1.0, kFloat64))); },
                          {"Adam", "learning rate", "-1"});
  expect_error_mentioning([&] { target.load_state_dict(with("junk", zeros({1}))); }, {"unexpected key 'junk'"});
  expect_error_mentioning([&] { target.load_state_dict(without("state.0.step")); }, {"missing key 'state.0.step'"});

  // A failed load leaves the optimizer as it was.
  EXPECT_DOUBLE_EQ(target.param_groups()[0].options().lr(), 0.2);
  EXPECT_TRUE(target.state().empty());
  // A state dict of another optimizer is rejected too.
  Tensor e = param_of({1.0, 2.0}), f = param_of({3.0});
  SGD sgd({e, f}, SGDOptions(0.1));
  expect_error_mentioning([&] { sgd.load_state_dict(good); }, {"SGD::load_state_dict", "param_groups.0."});
  target.load_state_dict(good);
  EXPECT_DOUBLE_EQ(target.param_groups()[0].options().lr(), 0.1);
  EXPECT_EQ(target.state().at(0).step(), 1);
}

// ---- end to end -------------------------------------------------------------------------------------------
/// Minimises ||A x - b||^2 (A 6x3 of full column rank, b = A x_true) and checks that x reaches x_true.
void check_converges(const std::function<std::unique_ptr<Optimizer>(const std::vector<Tensor>&)>& make, int steps,
                     double tolerance) {
  manual_seed(3);
  const Tensor A = randn({6, 3}, kFloat64);
  const Tensor x_true = tensor(std::vector<double>{1.0, -2.0, 0.5}, kFloat64);
  const Tensor b = A.matmul(x_true);
  Tensor x = zeros({3}, kFloat64);
  x.requires_grad_(true);
  auto opt = make({x});
  double first_loss = 0, loss_value = 0;
  for (int s = 0; s < steps; ++s) {
    opt->zero_grad();
    Tensor loss = (A.matmul(x) - b).square().sum();
    loss.backward();
    loss_value = loss.item<double>();
    if (s == 0) first_loss = loss_value;
    opt->step();
  }
  const auto got = x.to_vector<double>();
  const auto want = x_true.to_vector<double>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tolerance) << opt->name() << " x[" << i << "]";
  EXPECT_LT(loss_value, 1e-3 * first_loss) << opt->name();
}

TEST(NnOptimizer, EveryOptimizerMinimisesAQuadratic) {
  check_converges([](const std::vector<Tensor>& p) { return std::make_unique<SGD>(p, SGDOptions(0.01)); }, 500, 1e-3);
  check_converges([](const std::vector<Tensor>& p) { return std::make_unique<SGD>(p, SGDOptions(0.01).momentum(0.9)); },
                  300, 1e-3);
  check_converges(
      [](const std::vector<Tensor>& p) {
        return std::make_unique<SGD>(p, SGDOptions(0.01).momentum(0.9).nesterov(true));
      },
      300, 1e-3);
  check_converges([](const std::vector<Tensor>& p) { return std::make_unique<Adam>(p, AdamOptions(0.05)); }, 1000,
                  1e-3);
  check_converges(
      [](const std::vector<Tensor>& p) { return std::make_unique<Adam>(p, AdamOptions(0.05).amsgrad(true)); }, 1000,
      1e-3);
  check_converges(
      [](const std::vector<Tensor>& p) { return std::make_unique<AdamW>(p, AdamWOptions(0.05).weight_decay(0)); }, 1000,
      1e-3);
  check_converges([](const std::vector<Tensor>& p) { return std::make_unique<RMSprop>(p, RMSpropOptions(0.01)); }, 1000,
                  2e-2);
  check_converges(
      [](const std::vector<Tensor>& p) {
        return std::make_unique<RMSprop>(p, RMSpropOptions(0.001).centered(true).momentum(0.9));
      },
      1000, 1e-2);
  check_converges([](const std::vector<Tensor>& p) { return std::make_unique<Adagrad>(p, AdagradOptions(0.5)); }, 1000,
                  1e-3);
}

}  // namespace
