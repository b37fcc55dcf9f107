// Test helpers for the architecture tests: small module factories, and the checks every architecture must
// pass — the parameter partition (task parameters disjoint, shared = the complement), task isolation (a task's
// loss never reaches another task's parameters), a few Adam steps lowering the loss, errors naming the model.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "mtl/architectures/architectures.h"
#include "nn/nn.h"
#include "tensor/functions.h"

namespace tandem_test {

using namespace tandem;

/// Linear(in, hidden) → ReLU → Linear(hidden, out).
inline nn::Sequential mlp(int64_t in, int64_t hidden, int64_t out) {
  return nn::Sequential(nn::Linear(in, hidden), nn::ReLU(), nn::Linear(hidden, out));
}
/// Linear(in, out) → ReLU: an expert or encoder.
inline mtl::ModuleFactory dense_factory(int64_t in, int64_t out) {
  return [in, out] { return nn::Sequential(nn::Linear(in, out), nn::ReLU()); };
}
/// One Linear(in, out) per task.
inline mtl::TaskModuleFactory linear_heads(int64_t in, int64_t out) {
  return [in, out](size_t) { return nn::Sequential(nn::Linear(in, out)); };
}
/// Task names "t0", "t1", ...
inline std::vector<std::string> task_names(size_t count) {
  std::vector<std::string> names;
  for (size_t t = 0; t < count; ++t) {
    std::string name = "t";
    name += std::to_string(t);
    names.push_back(name);
  }
  return names;
}

inline bool contains(const std::vector<Tensor>& list, const Tensor& t) {
  for (const Tensor& x : list)
    if (x.is_same(t)) return true;
  return false;
}

/// task_parameters(t) are disjoint across tasks and non-empty; shared_parameters() is exactly the rest.
inline void expect_parameter_partition(const mtl::MultiTaskModel& model) {
  const auto all = model.parameters();
  std::vector<Tensor> owned;
  for (size_t t = 0; t < model.num_tasks(); ++t) {
    const auto mine = model.task_parameters(t);
    EXPECT_FALSE(mine.empty()) << "task " << t << " has no parameters";
    for (const Tensor& p : mine) {
      EXPECT_TRUE(contains(all, p)) << "a parameter of task " << t << " is not registered in the model";
      EXPECT_FALSE(contains(owned, p)) << "a parameter of task " << t << " also belongs to an earlier task";
      owned.push_back(p);
    }
  }
  const auto shared = model.shared_parameters();
  for (const Tensor& p : shared) EXPECT_FALSE(contains(owned, p)) << "a shared parameter belongs to a task";
  EXPECT_EQ(owned.size() + shared.size(), all.size());
  for (const Tensor& p : all) EXPECT_TRUE(contains(owned, p) || contains(shared, p));
}

inline bool has_nonzero_grad(const Tensor& p) {
  return p.grad().defined() && p.grad().abs().max().item<double>() > 0;
}

/// For every task t: the loss of task t alone leaves every other task's parameters without gradient (undefined
/// or zero), and reaches some of task t's own.
inline void expect_task_isolation(mtl::MultiTaskModel& model, const Tensor& input) {
  for (size_t t = 0; t < model.num_tasks(); ++t) {
    model.zero_grad();
    auto outputs = model.forward(input);
    outputs[t].square().mean().backward();
    bool own = false;
    for (const Tensor& p : model.task_parameters(t)) own = own || has_nonzero_grad(p);
    EXPECT_TRUE(own) << "the loss of task " << t << " gives no gradient to its own parameters";
    for (size_t u = 0; u < model.num_tasks(); ++u) {
      if (u == t) continue;
      for (const Tensor& p : model.task_parameters(u))
        EXPECT_FALSE(has_nonzero_grad(p)) << "the loss of task " << t << " reaches a parameter of task " << u;
    }
  }
  model.zero_grad();
}

/// Σ_t mse(outputs[t], targets[t]) (+ the model's regularization when it has one).
inline Tensor summed_loss(mtl::MultiTaskModel& model, const Tensor& input, const std::vector<Tensor>& targets) {
  auto outputs = model.forward(input);
  Tensor loss = mse_loss(outputs[0], targets[0]);
  for (size_t t = 1; t < outputs.size(); ++t) loss = loss + mse_loss(outputs[t], targets[t]);
  Tensor reg = model.regularization();
  return reg.defined() ? loss + reg : loss;
}

/// A tiny two-task regression problem on [N, features] inputs: y0 = x·w0, y1 = tanh(x·w1), shapes [N, 1].
inline std::vector<Tensor> two_task_targets(const Tensor& x) {
  const int64_t f = x.size(1);
  Tensor w0 = randn({f, 1}), w1 = randn({f, 1});
  return {x.matmul(w0), x.matmul(w1).tanh()};
}

/// `steps` Adam steps lower the summed loss to below `factor` times its starting value.
inline void expect_training_lowers_loss(mtl::MultiTaskModel& model, const Tensor& input,
                                        const std::vector<Tensor>& targets, int steps = 40, double lr = 1e-2,
                                        double factor = 0.8) {
  optim::Adam optimizer(model.parameters(), optim::AdamOptions(lr));
  double first = 0, last = 0;
  for (int step = 0; step < steps; ++step) {
    optimizer.zero_grad();
    Tensor loss = summed_loss(model, input, targets);
    if (step == 0) first = loss.item<double>();
    loss.backward();
    optimizer.step();
  }
  {
    NoGradGuard no_grad;
    last = summed_loss(model, input, targets).item<double>();
  }
  EXPECT_LT(last, factor * first) << "loss went from " << first << " to " << last;
}

/// Runs fn and checks that it throws tandem::Error whose message contains every one of `parts`.
template <typename Fn>
void expect_error(Fn&& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "expected a tandem::Error";
  } catch (const tandem::Error& e) {
    const std::string message = e.what();
    for (const std::string& part : parts)
      EXPECT_NE(message.find(part), std::string::npos) << "the message \"" << message << "\" lacks \"" << part << "\"";
  }
}

/// The one-line description of a module.
inline std::string printed(const nn::Module& module) {
  std::ostringstream os;
  module.pretty_print(os);
  return os.str();
}

/// The parameter registered as `name` (fails the test when there is none).
inline Tensor parameter(const nn::Module& module, const std::string& name) {
  const auto named = module.named_parameters();
  const Tensor* found = named.find(name);
  EXPECT_NE(found, nullptr) << "no parameter '" << name << "'";
  return found ? *found : Tensor();
}

/// Every row of a [N, E] gate sums to 1 and every entry is in [0, 1].
inline void expect_rows_sum_to_one(const Tensor& weights) {
  ASSERT_EQ(weights.dim(), 2);
  EXPECT_TRUE(allclose(weights.sum(1), ones({weights.size(0)}, weights.dtype()), 1e-5, 1e-6));
  EXPECT_GE(weights.min().item<double>(), 0.0);
  EXPECT_LE(weights.max().item<double>(), 1.0 + 1e-6);
}

}  // namespace tandem_test
