// MTAN: shapes, names, masks in (0, 1) of each stage's shape, the attention wiring by hand, the image variant
// (1x1-conv attention, a stage that halves the resolution), partition and isolation, gradcheck, errors, training.
#include <gtest/gtest.h>

#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem_test;

std::vector<nn::Sequential> dense_stages() {
  return {nn::Sequential(nn::Linear(4, 6), nn::ReLU()), nn::Sequential(nn::Linear(6, 5), nn::Tanh())};
}

mtl::MTAN make_mtan(size_t tasks) {
  return mtl::MTAN(task_names(tasks), dense_stages(), linear_heads(5, 2), mtl::MTANOptions({6, 5}));
}

TEST(MTAN, OutputShapesAndNames) {
  manual_seed(70);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_mtan(tasks);
    auto outputs = model->forward(randn({6, 4}));
    ASSERT_EQ(outputs.size(), tasks);
    for (const Tensor& out : outputs) EXPECT_EQ(out.sizes(), Dims({6, 2}));
  }
  auto model = make_mtan(2);
  const auto named = model->named_parameters();
  for (const char* name : {"stages.0.0.weight", "stages.1.0.bias", "attention.t0.0.0.weight", "attention.t1.1.0.bias",
                           "heads.t0.0.weight"})
    EXPECT_TRUE(named.contains(name)) << name;
  EXPECT_EQ(parameter(*model, "attention.t0.0.0.weight").sizes(), Dims({6, 6}));   // stage 0: C_0 -> C_0
  EXPECT_EQ(parameter(*model, "attention.t0.1.0.weight").sizes(), Dims({5, 11}));  // stage 1: C_1 + C_0 -> C_1
}

TEST(MTAN, MasksAreInTheOpenUnitIntervalWithTheStageShapes) {
  manual_seed(71);
  auto model = make_mtan(3);
  auto masks = model->masks(randn({4, 4}) * 3.0);
  ASSERT_EQ(masks.size(), 3u);
  for (const auto& task_masks : masks) {
    ASSERT_EQ(task_masks.size(), 2u);
    EXPECT_EQ(task_masks[0].sizes(), Dims({4, 6}));
    EXPECT_EQ(task_masks[1].sizes(), Dims({4, 5}));
    for (const Tensor& m : task_masks) {
      EXPECT_GT(m.min().item<double>(), 0.0);
      EXPECT_LT(m.max().item<double>(), 1.0);
    }
  }
}

TEST(MTAN, AttentionWiredByHand) {
  manual_seed(72);
  auto model = make_mtan(2);
  Tensor x = randn({3, 4});
  auto stage = [&](size_t s) { return model->stages->ptr<nn::SequentialImpl>(s); };
  auto att = [&](const char* task, size_t s) {
    return model->attention->ptr<nn::ModuleListImpl>(task)->ptr<nn::SequentialImpl>(s);
  };
  Tensor u0 = stage(0)->forward(x);
  Tensor a0 = att("t1", 0)->forward(u0).sigmoid() * u0;
  Tensor u1 = stage(1)->forward(u0);
  Tensor a1 = att("t1", 1)->forward(cat({u1, a0}, 1)).sigmoid() * u1;
  Tensor expected = model->heads->ptr<nn::SequentialImpl>("t1")->forward(a1);
  EXPECT_TRUE(allclose(model->forward(x)[1], expected, 1e-5, 1e-6));
  EXPECT_TRUE(allclose(model->forward_task(x, 1), expected, 1e-5, 1e-6));
}

TEST(MTAN, ImagesWithConvAttentionAndDownsampling) {
  manual_seed(73);
  std::vector<nn::Sequential> stages{
      nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 3, 3).padding(1)), nn::ReLU()),
      nn::Sequential(nn::Conv2d(nn::Conv2dOptions(3, 4, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2))};
  auto head = [](size_t) { return nn::Sequential(nn::Flatten(), nn::Linear(4 * 3 * 3, 2)); };
  auto model = mtl::MTAN(task_names(2), stages, head, mtl::MTANOptions({3, 4}), mtl::conv_attention());
  Tensor x = randn({2, 1, 6, 6});
  auto outputs = model->forward(x);
  EXPECT_EQ(outputs[1].sizes(), Dims({2, 2}));
  auto masks = model->masks(x);
  EXPECT_EQ(masks[0][0].sizes(), Dims({2, 3, 6, 6}));
  EXPECT_EQ(masks[0][1].sizes(), Dims({2, 4, 3, 3}));
  EXPECT_GT(masks[0][1].min().item<double>(), 0.0);
  EXPECT_LT(masks[0][1].max().item<double>(), 1.0);
  // Stage 1's attention reads 4 + 3 channels (the stage output and the pooled stage-0 features).
  EXPECT_EQ(parameter(*model, "attention.t0.1.0.weight").sizes(), Dims({4, 7, 1, 1}));
  expect_parameter_partition(*model);
  expect_task_isolation(*model, x);
}

TEST(MTAN, PartitionIsolationAndGradcheck) {
  manual_seed(74);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_mtan(tasks);
    expect_parameter_partition(*model);
    EXPECT_EQ(model->shared_parameters().size(), 4u);  // the stages
    EXPECT_EQ(model->task_parameters(0).size(), 6u);   // two attention Linears and the head
    expect_task_isolation(*model, randn({6, 4}));
  }
  auto model = make_mtan(2);
  model->to(kFloat64);
  Tensor x = randn({2, 4}, TensorOptions(kFloat64).requires_grad(true));
  auto fn = [&](const autograd::variable_list& in) { return model->forward(in[0]); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x, parameter(*model, "attention.t1.1.0.weight")}));
}

TEST(MTAN, PrettyPrintAndErrors) {
  manual_seed(75);
  auto model = make_mtan(2);
  EXPECT_EQ(printed(*model), "MTAN(tasks=[t0, t1], stages=2, stage_channels=[6, 5])");
  expect_error([&] { model->forward(randn({3, 7})); }, {"MTAN", "[3, 7]"});
  expect_error([&] { mtl::MTAN(task_names(2), dense_stages(), linear_heads(5, 2), mtl::MTANOptions({6})); },
               {"MTAN", "1 entries for 2 stages"});
  auto wrong_channels = mtl::MTAN(task_names(2), dense_stages(), linear_heads(5, 2), mtl::MTANOptions({6, 4}));
  expect_error([&] { wrong_channels->forward(randn({3, 4})); }, {"MTAN", "stage_channels[1] = 4"});
  auto wrong_mask = mtl::MTAN(task_names(2), dense_stages(), linear_heads(5, 2), mtl::MTANOptions({6, 5}),
                              [](size_t, int64_t in, int64_t) { return nn::Sequential(nn::Linear(in, 2)); });
  expect_error([&] { wrong_mask->forward(randn({3, 4})); }, {"MTAN", "mask of shape"});
}

TEST(MTAN, AdamStepsLowerTheLoss) {
  manual_seed(76);
  Tensor x = randn({32, 4});
  auto targets = two_task_targets(x);
  std::vector<nn::Sequential> stages{nn::Sequential(nn::Linear(4, 16), nn::ReLU()),
                                     nn::Sequential(nn::Linear(16, 8), nn::ReLU())};
  auto model = mtl::MTAN(task_names(2), stages, linear_heads(8, 1), mtl::MTANOptions({16, 8}));
  expect_training_lowers_loss(*model, x, targets);
}

}  // namespace
