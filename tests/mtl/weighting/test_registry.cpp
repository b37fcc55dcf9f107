// The registry seen from the loss-level methods: their names, spec parsing ("dwa:temperature=1.5"), errors that
// name the unknown method, the unknown option or the value that is not a number, and the checks on the task
// losses that every loss-level method shares.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "mtl/weighting/dwa.h"
#include "mtl/weighting/famo.h"
#include "mtl/weighting/gradnorm.h"
#include "mtl/weighting/weighting.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;

const std::vector<std::string> kLossMethods = {"ew", "fixed", "uw", "dwa", "rlw", "gls", "gradnorm", "famo"};

struct LossOnlyModel : mtl::MultiTaskModel {
  explicit LossOnlyModel(size_t num_tasks) : MultiTaskModel(task_names_for(num_tasks)) {}
  static std::vector<std::string> task_names_for(size_t n) {
    std::vector<std::string> names;
    for (size_t t = 0; t < n; ++t) names.push_back("task" + std::to_string(t));
    return names;
  }
  std::vector<Tensor> forward(const Tensor&) override { return {}; }
  std::vector<Tensor> task_parameters(size_t) const override { return {}; }
};

// The message of the tandem::Error that `make` throws ("" when it throws none).
template <typename F>
std::string error_message(F&& make) {
  try {
    make();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(LossWeightingRegistry, ListsEveryLossMethod) {
  const auto names = mtl::weighting_names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const auto& name : kLossMethods) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
    auto method = mtl::make_weighting(name, 3);
    EXPECT_EQ(method->method(), name);
    EXPECT_EQ(method->num_tasks(), 3u);
    EXPECT_NE(std::dynamic_pointer_cast<mtl::LossWeighting>(method), nullptr) << name;
    EXPECT_FALSE(mtl::is_gradient_method(name)) << name;
    EXPECT_FALSE(method->uses_representation()) << name;
    EXPECT_EQ(method->needs_losses_after_step(), name == "famo") << name;
  }
}

TEST(LossWeightingRegistry, ParsesOptionsFromTheSpec) {
  auto dwa = std::dynamic_pointer_cast<mtl::DWA>(mtl::make_weighting("dwa:temperature=1.5", 2));
  ASSERT_NE(dwa, nullptr);
  EXPECT_EQ(dwa->temperature(), 1.5);
  auto gradnorm = std::dynamic_pointer_cast<mtl::GradNorm>(mtl::make_weighting("gradnorm:alpha=0.12", 4));
  ASSERT_NE(gradnorm, nullptr);
  EXPECT_EQ(gradnorm->alpha(), 0.12);
  EXPECT_EQ(gradnorm->num_tasks(), 4u);
  auto famo = std::dynamic_pointer_cast<mtl::FAMO>(mtl::make_weighting("famo:lr=0.01,weight_decay=0,epsilon=1e-6", 2));
  ASSERT_NE(famo, nullptr);
  EXPECT_EQ(famo->lr(), 0.01);
  EXPECT_EQ(famo->weight_decay(), 0.0);
  EXPECT_EQ(famo->epsilon(), 1e-6);
  auto same = std::dynamic_pointer_cast<mtl::DWA>(
      mtl::make_weighting("dwa", 2, mtl::WeightingOptions().set("temperature", 1.5)));
  ASSERT_NE(same, nullptr);
  EXPECT_EQ(same->temperature(), 1.5);
}

TEST(LossWeightingRegistry, ErrorsNameWhatIsWrong) {
  std::string message = error_message([] { mtl::make_weighting("dwaa:temperature=1", 2); });
  EXPECT_TRUE(contains(message, "unknown method 'dwaa'")) << message;
  EXPECT_TRUE(contains(message, "gradnorm")) << message;  // the known names are listed

  message = error_message([] { mtl::make_weighting("dwa:tau=1", 2); });
  EXPECT_TRUE(contains(message, "dwa")) << message;
  EXPECT_TRUE(contains(message, "unknown option 'tau'")) << message;
  EXPECT_TRUE(contains(message, "temperature")) << message;  // the known options are listed

  message = error_message([] { mtl::make_weighting("uw:alpha=1", 2); });
  EXPECT_TRUE(contains(message, "uw: unknown option 'alpha'")) << message;

  message = error_message([] { mtl::make_weighting("dwa:temperature=warm", 2); });
  EXPECT_TRUE(contains(message, "dwa")) << message;
  EXPECT_TRUE(contains(message, "temperature")) << message;
  EXPECT_TRUE(contains(message, "'warm' is not a number")) << message;

  message = error_message([] { mtl::make_weighting("gradnorm:alpha=1.5x", 2); });
  EXPECT_TRUE(contains(message, "gradnorm: option alpha='1.5x' is not a number")) << message;

  message = error_message([] { mtl::make_weighting("famo:lr", 2); });
  EXPECT_TRUE(contains(message, "not key=value")) << message;

  for (const auto& name : kLossMethods) EXPECT_THROW(mtl::make_weighting(name, 0), Error) << name;
}

TEST(LossWeightingRegistry, EveryMethodChecksTheLosses) {
  LossOnlyModel model(3);
  for (const auto& name : kLossMethods) {
    auto method = mtl::make_weighting(name, 3);
    mtl::StepContext too_few{model, {scalar_tensor(1.0).requires_grad_(true), scalar_tensor(2.0).requires_grad_(true)}};
    std::string message = error_message([&] { method->backward(too_few); });
    EXPECT_TRUE(contains(message, name + ": got 2 losses for 3 tasks")) << message;

    mtl::StepContext not_scalar{model, {scalar_tensor(1.0).requires_grad_(true), ones({2}).requires_grad_(true),
                                        scalar_tensor(2.0).requires_grad_(true)}};
    message = error_message([&] { method->backward(not_scalar); });
    EXPECT_TRUE(contains(message, name + ": the loss of task 1 must be a one-element tensor")) << message;
  }
}

TEST(LossWeightingRegistry, ExtraLossIsAddedOnce) {
  // The regularization term reaches its parameter with gradient 1 whatever the method.
  LossOnlyModel model(2);
  for (const auto& name : {"ew", "uw", "dwa", "rlw", "gls", "famo"}) {
    auto method = mtl::make_weighting(name, 2);
    Tensor penalty = scalar_tensor(0.3).requires_grad_(true);
    mtl::StepContext context{model, {scalar_tensor(1.0).requires_grad_(true), scalar_tensor(2.0).requires_grad_(true)}};
    context.extra_loss = penalty * 1.0;
    method->backward(context);
    EXPECT_NEAR(penalty.grad().item<double>(), 1.0, 1e-6) << name;
  }
}

}  // namespace
