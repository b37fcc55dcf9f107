// The gradient-level methods as the registry knows them: every name, its options and scopes, and a few
// training steps of each on a small model with every scope it accepts.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/mtl/weighting/gradient_method_fixtures.h"

namespace {

using namespace tandem;
using namespace tandem::mtl;
using namespace tandem::mtl::testing;

const std::vector<std::string> kGradientMethods = {"mgda", "pcgrad", "cagrad", "gradvac", "imtl",
                                                   "aligned_mtl", "nash_mtl", "db_mtl", "upgrad", "graddrop"};

TEST(GradientRegistry, EveryMethodIsRegistered) {
  const auto names = weighting_names();
  for (const std::string& name : kGradientMethods) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
    EXPECT_TRUE(is_gradient_method(name)) << name;
    auto method = make_weighting(name, 3);
    EXPECT_EQ(method->method(), name);
    EXPECT_EQ(method->num_tasks(), 3u);
  }
}

TEST(GradientRegistry, ScopesAndOptions) {
  for (const std::string& name : kGradientMethods) {
    SCOPED_TRACE(name);
    if (name == "graddrop") continue;
    auto params = std::dynamic_pointer_cast<GradientWeighting>(make_weighting(name, 2));
    EXPECT_EQ(params->scope(), SharedScope::kParameters);
    EXPECT_FALSE(params->uses_representation());
    auto rep = std::dynamic_pointer_cast<GradientWeighting>(make_weighting(name + ":scope=rep", 2));
    EXPECT_EQ(rep->scope(), SharedScope::kRepresentation);
    EXPECT_TRUE(rep->uses_representation());
    auto last = std::dynamic_pointer_cast<GradientWeighting>(make_weighting(name + ":scope=last", 2));
    EXPECT_EQ(last->scope(), SharedScope::kLastSharedLayer);
    try {
      make_weighting(name + ":no_such_option=1", 2);
      ADD_FAILURE() << "an unknown option was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("no_such_option"), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(make_weighting("cagrad:c=0.4,rescale=0,scope=last", 4));
  EXPECT_NO_THROW(make_weighting("nash_mtl:max_norm=1,update_every=5", 4));
  EXPECT_NO_THROW(make_weighting("db_mtl:beta=0.5,beta_sigma=0", 4));
  EXPECT_NO_THROW(make_weighting("gradvac:beta=0.1,scope=rep", 4));
  EXPECT_NO_THROW(make_weighting("graddrop:leak=0.5", 4));
  EXPECT_THROW(make_weighting("graddrop:scope=params", 4), Error);
}

TEST(GradientRegistry, EveryMethodTrainsOnEveryScope) {
  // A few SGD steps of each method on a three-task model: finite gradients everywhere, and the losses go down.
  for (const std::string& name : kGradientMethods) {
    for (const std::string scope : {"params", "last", "rep"}) {
      if (name == "graddrop" && scope != "rep") continue;
      SCOPED_TRACE(name + " scope=" + scope);
      manual_seed(2);
      TwoLayerModel model(3);
      const TwoLayerBatch batch = make_two_layer_batch(3, 5);
      auto method = make_weighting(name + ":scope=" + scope, 3);
      std::vector<Tensor> parameters = model->parameters();
      for (const Tensor& p : method->parameters()) parameters.push_back(p);
      optim::SGD sgd(parameters, optim::SGDOptions(0.05));
      auto total_loss = [&] {
        NoGradGuard no_grad;
        double total = 0.0;
        for (const Tensor& l : squared_errors(model->forward(batch.x), batch.targets)) total += l.item<double>();
        return total;
      };
      const double before = total_loss();
      for (int step = 0; step < 30; ++step) {
        const WeightingReport report = run_step(*method, *model, batch.x, [&](const std::vector<Tensor>& out) {
          return squared_errors(out, batch.targets);
        });
        ASSERT_EQ(report.weights.size(), 3u);
        for (double w : report.weights) ASSERT_TRUE(std::isfinite(w));
        ASSERT_NE(report.gradients, nullptr);
        for (const Tensor& p : model->parameters())
          ASSERT_TRUE(p.grad().defined() && std::isfinite(p.grad().abs().sum().item<double>()));
        sgd.step();
        method->after_step();
      }
      EXPECT_LT(total_loss(), before);
    }
  }
}

TEST(GradientRegistry, StateSurvivesACheckpoint) {
  // The state of the stateful methods lives in parameters and buffers: copying those into a fresh instance
  // (what loading a checkpoint does) makes the next step identical.
  for (const std::string spec : {"gradvac", "db_mtl", "nash_mtl:update_every=3", "imtl", "gradvac:scope=rep"}) {
    SCOPED_TRACE(spec);
    manual_seed(4);
    TwoLayerModel model(3);
    const TwoLayerBatch batch = make_two_layer_batch(3, 8);
    auto losses_of = [&](const std::vector<Tensor>& out) { return squared_errors(out, batch.targets); };
    auto original = make_weighting(spec, 3);
    optim::SGD sgd(model->parameters(), optim::SGDOptions(0.05));
    for (int step = 0; step < 2; ++step) {
      run_step(*original, *model, batch.x, losses_of);
      sgd.step();
      if (!original->parameters().empty()) {  // IMTL's scales move too
        NoGradGuard no_grad;
        for (Tensor& p : original->parameters()) p.sub_(p.grad() * 0.1);
      }
    }
    auto restored = make_weighting(spec, 3);
    {
      NoGradGuard no_grad;
      auto from_params = original->named_parameters(), to_params = restored->named_parameters();
      for (auto& [key, value] : from_params) nn::set_data(to_params[key], value.clone());
      auto from_buffers = original->named_buffers(), to_buffers = restored->named_buffers();
      ASSERT_EQ(from_buffers.size(), to_buffers.size());
      for (auto& [key, value] : from_buffers) nn::set_data(to_buffers[key], value.clone());
    }
    manual_seed(9);
    const auto expected = run_step(*original, *model, batch.x, losses_of).weights;
    const Tensor expected_grad = flat_grad(model->shared_parameters()).clone();
    manual_seed(9);
    const auto got = run_step(*restored, *model, batch.x, losses_of).weights;
    expect_vector_near(got, expected, 1e-12);
    expect_tensor_near(flat_grad(model->shared_parameters()), expected_grad, 1e-12);
  }
}

}  // namespace
