// dwa: weights of 1 for the first two epochs, T · softmax(r / τ) afterwards (against hand numbers), the
// gradients of the combined loss, and the loss history surviving a checkpoint of the buffers.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "mtl/weighting/dwa.h"
#include "nn/serialize/checkpoint.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;

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

void expect_weights(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t t = 0; t < expected.size(); ++t) EXPECT_NEAR(actual[t], expected[t], 1e-12) << "task " << t;
}

// Epoch means (2, 1, 4) then (1, 0.9, 2): r = (0.5, 0.9, 0.5); with τ = 2, 3 · softmax(0.25, 0.45, 0.25).
const std::vector<double> kAfterTwoEpochs = {0.9312713203590168, 1.1374573592819666, 0.9312713203590168};

TEST(DWA, OnesForTheFirstTwoEpochs) {
  mtl::DWA dwa(3);
  EXPECT_EQ(dwa.temperature(), 2.0);
  expect_weights(dwa.current_weights(), {1, 1, 1});
  dwa.end_epoch({2.0, 1.0, 4.0});
  expect_weights(dwa.current_weights(), {1, 1, 1});
  dwa.end_epoch({1.0, 0.9, 2.0});
  expect_weights(dwa.current_weights(), kAfterTwoEpochs);
  // The next epoch ratio uses the last two epochs only: (0.5, 0.9, 1) / (1, 0.9, 2) = (0.5, 1, 0.5).
  dwa.end_epoch({0.5, 0.9, 1.0});
  expect_weights(dwa.current_weights(), {0.913513027260852, 1.172973945478296, 0.913513027260852});
}

TEST(DWA, TemperatureOption) {
  // τ = 1: 3 · softmax(0.5, 0.9, 0.5).
  mtl::DWA dwa(3, mtl::WeightingOptions{{"temperature", "1"}});
  dwa.end_epoch({2.0, 1.0, 4.0});
  dwa.end_epoch({1.0, 0.9, 2.0});
  expect_weights(dwa.current_weights(), {0.8591496594965096, 1.2817006810069809, 0.8591496594965096});
  EXPECT_THROW(mtl::DWA(3, mtl::WeightingOptions{{"temperature", "0"}}), Error);
  EXPECT_THROW(mtl::DWA(3, mtl::WeightingOptions{{"temperature", "-1"}}), Error);
  EXPECT_THROW(mtl::DWA(3, mtl::WeightingOptions{{"tau", "1"}}), Error);
}

TEST(DWA, CombinedLossGradientsAreTheWeights) {
  mtl::DWA dwa(3);
  dwa.end_epoch({2.0, 1.0, 4.0});
  dwa.end_epoch({1.0, 0.9, 2.0});
  LossOnlyModel model(3);
  std::vector<Tensor> losses;
  for (double v : {0.3, 0.2, 0.1}) losses.push_back(scalar_tensor(v).requires_grad_(true));
  mtl::StepContext context{model, losses};
  const mtl::WeightingReport report = dwa.backward(context);
  expect_weights(report.weights, kAfterTwoEpochs);
  for (size_t t = 0; t < 3; ++t) EXPECT_NEAR(losses[t].grad().item<double>(), kAfterTwoEpochs[t], 1e-6) << t;
}

TEST(DWA, HistorySurvivesAStateDictRoundTrip) {
  mtl::DWA trained(3);
  trained.end_epoch({2.0, 1.0, 4.0});
  trained.end_epoch({1.0, 0.9, 2.0});
  const auto state = module_state_dict(trained);
  EXPECT_TRUE(state.contains("loss_history"));
  EXPECT_TRUE(state.contains("epochs_seen"));

  mtl::DWA copied(3);
  EXPECT_TRUE(load_state_dict(copied, state).ok());
  expect_weights(copied.current_weights(), kAfterTwoEpochs);

  // Through a file as well, and the history keeps shifting the same way afterwards.
  const auto path = std::filesystem::temp_directory_path() / "tandem_test_dwa_state.safetensors";
  save(trained, path);
  mtl::DWA loaded(3);
  load(loaded, path);
  std::filesystem::remove(path);
  expect_weights(loaded.current_weights(), kAfterTwoEpochs);
  trained.end_epoch({0.5, 0.9, 1.0});
  loaded.end_epoch({0.5, 0.9, 1.0});
  expect_weights(loaded.current_weights(), trained.current_weights());

  // A fresh instance that saw only one epoch is not confused with one that saw two.
  mtl::DWA one_epoch(3);
  one_epoch.end_epoch({2.0, 1.0, 4.0});
  mtl::DWA restored(3);
  load_state_dict(restored, module_state_dict(one_epoch));
  expect_weights(restored.current_weights(), {1, 1, 1});
}

TEST(DWA, RejectsBadEpochLosses) {
  mtl::DWA dwa(3);
  EXPECT_THROW(dwa.end_epoch({1.0, 2.0}), Error);
  EXPECT_THROW(dwa.end_epoch({1.0, 0.0, 2.0}), Error);
  EXPECT_THROW(dwa.end_epoch({1.0, -1.0, 2.0}), Error);
  EXPECT_THROW(dwa.end_epoch({1.0, std::numeric_limits<double>::quiet_NaN(), 2.0}), Error);
  // Nothing was recorded by the rejected calls.
  dwa.end_epoch({2.0, 1.0, 4.0});
  dwa.end_epoch({1.0, 0.9, 2.0});
  expect_weights(dwa.current_weights(), kAfterTwoEpochs);
}

}  // namespace
