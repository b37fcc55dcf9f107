// HPS: output shapes, parameter names and partition, task isolation, encode/decode, forward_task, errors,
// training.
#include <gtest/gtest.h>

#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem_test;

mtl::HPS make_hps(size_t tasks, int64_t in = 4, int64_t hidden = 6) {
  return mtl::HPS(task_names(tasks), nn::Sequential(nn::Linear(in, hidden), nn::ReLU()),
                  [hidden](size_t t) { return nn::Sequential(nn::Linear(hidden, static_cast<int64_t>(t) + 1)); });
}

TEST(HPS, OutputShapesForTwoAndThreeTasks) {
  manual_seed(0);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_hps(tasks);
    auto outputs = model->forward(randn({5, 4}));
    ASSERT_EQ(outputs.size(), tasks);
    for (size_t t = 0; t < tasks; ++t) EXPECT_EQ(outputs[t].sizes(), Dims({5, static_cast<int64_t>(t) + 1}));
  }
}

TEST(HPS, ParameterNamesAndPartition) {
  manual_seed(1);
  auto model = mtl::HPS(std::vector<std::string>{"left", "right"}, nn::Sequential(nn::Linear(4, 6)),
                        std::vector<nn::Sequential>{nn::Sequential(nn::Linear(6, 2)), nn::Sequential(nn::Linear(6, 3))});
  const auto names = model->named_parameters().keys();
  EXPECT_EQ(names, (std::vector<std::string>{"encoder.0.weight", "encoder.0.bias", "heads.left.0.weight",
                                             "heads.left.0.bias", "heads.right.0.weight", "heads.right.0.bias"}));
  expect_parameter_partition(*model);
  EXPECT_EQ(model->shared_parameter_names(), (std::vector<std::string>{"encoder.0.weight", "encoder.0.bias"}));
  EXPECT_EQ(model->last_shared_parameters().size(), 2u);
  for (size_t tasks : {2u, 3u}) expect_parameter_partition(*make_hps(tasks));
}

TEST(HPS, TaskLossReachesOnlyItsOwnHead) {
  manual_seed(2);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_hps(tasks);
    expect_task_isolation(*model, randn({6, 4}));
  }
}

TEST(HPS, EncodeDecodeEqualsForward) {
  manual_seed(3);
  auto model = make_hps(3);
  Tensor x = randn({5, 4});
  EXPECT_TRUE(model->has_representation());
  auto direct = model->forward(x);
  Tensor z = model->encode(x);
  EXPECT_EQ(z.sizes(), Dims({5, 6}));
  auto composed = model->decode(z, x);
  auto from_leaf = model->decode(z.detach().requires_grad_(true), x);
  for (size_t t = 0; t < 3; ++t) {
    EXPECT_TRUE(allclose(direct[t], composed[t]));
    EXPECT_TRUE(allclose(direct[t], from_leaf[t]));
    EXPECT_TRUE(allclose(direct[t], model->forward_task(x, t)));
  }
}

TEST(HPS, GradientThroughRepresentationLeaf) {
  manual_seed(4);
  auto model = make_hps(2);
  Tensor x = randn({3, 4});
  Tensor z = model->encode(x).detach().requires_grad_(true);
  model->decode(z, x)[1].sum().backward();
  ASSERT_TRUE(z.grad().defined());
  // The head is linear: d(sum(W z + b))/dz = column sums of W, the same for every sample.
  Tensor w = parameter(*model, "heads.t1.0.weight");
  EXPECT_TRUE(allclose(z.grad(), w.sum(0).unsqueeze(0).expand({3, 6})));
}

TEST(HPS, PrettyPrintNamesTheArchitecture) {
  auto model = make_hps(2);
  EXPECT_EQ(printed(*model), "HPS(tasks=[t0, t1])");
  EXPECT_NE(model->tree_string().find("HPS"), std::string::npos);
}

TEST(HPS, WrongInputsThrowNamingTheArchitecture) {
  manual_seed(5);
  auto model = make_hps(2);
  expect_error([&] { model->forward(randn({5, 7})); }, {"HPS", "[5, 7]"});
  expect_error([&] { model->forward(Tensor()); }, {"HPS", "undefined"});
  expect_error([&] { model->forward_task(randn({5, 4}), 2); }, {"HPS", "out of range"});
  expect_error([&] { model->task_parameters(5); }, {"HPS", "out of range"});
  expect_error([&] { model->decode(randn({5, 3}), randn({5, 4})); }, {"HPS"});
  // Construction errors: head count, empty modules, a module shared between tasks.
  expect_error([&] { mtl::HPS(task_names(2), nn::Sequential(nn::Linear(4, 6)), std::vector<nn::Sequential>{}); },
               {"HPS", "0 heads for 2 tasks"});
  nn::Sequential same(nn::Linear(6, 1));
  expect_error([&] { mtl::HPS(task_names(2), nn::Sequential(nn::Linear(4, 6)), [&](size_t) { return same; }); },
               {"HPS", "same tensor"});
  expect_error([&] { mtl::HPS(task_names(2), nn::Sequential(nn::Linear(4, 6)), mtl::TaskModuleFactory{}); },
               {"HPS", "factory is empty"});
  expect_error([&] { mtl::HPS(std::vector<std::string>{"a.b", "c"}, nn::Sequential(), linear_heads(4, 1)); },
               {"HPS", "a.b"});
}

TEST(HPS, AddTaskPutsANewHeadOnTheEncoder) {
  manual_seed(7);
  auto model = make_hps(2);
  Tensor x = randn({4, 4});
  auto before = model->forward(x);
  nn::Sequential head(nn::Linear(6, 3));
  model->add_task("extra", head);
  ASSERT_EQ(model->num_tasks(), 3u);
  EXPECT_EQ(model->task_index("extra"), 2u);
  EXPECT_TRUE(model->named_parameters().contains("heads.extra.0.weight"));
  auto after = model->forward(x);
  EXPECT_TRUE(allclose(after[0], before[0]));
  EXPECT_TRUE(allclose(after[2], head->forward(model->encode(x))));
  expect_parameter_partition(*model);
  expect_task_isolation(*model, x);
  expect_error([&] { model->add_task("t0", nn::Sequential(nn::Linear(6, 1))); }, {"HPS", "already has a task"});
  expect_error([&] { model->add_task("again", head); }, {"HPS", "shares its parameter"});
  expect_error([&] { model->add_task("a.b", nn::Sequential(nn::Linear(6, 1))); }, {"HPS", "a.b"});
  EXPECT_EQ(model->num_tasks(), 3u);
  // Other architectures keep the interface's default: adding a task is refused.
  auto mmoe = mtl::MMoE(task_names(2), dense_factory(4, 5), linear_heads(5, 1), mtl::MMoEOptions(4, 2));
  expect_error([&] { mmoe->add_task("extra", nn::Sequential(nn::Linear(5, 1))); }, {"MMoE", "does not support"});
}

TEST(HPS, AdamStepsLowerTheLoss) {
  manual_seed(6);
  Tensor x = randn({32, 4});
  auto targets = two_task_targets(x);
  auto model = mtl::HPS(task_names(2), nn::Sequential(nn::Linear(4, 16), nn::ReLU()), linear_heads(16, 1));
  expect_training_lowers_loss(*model, x, targets);
}

}  // namespace
