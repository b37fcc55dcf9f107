// Cross-stitch: shapes, names, α initialisation, identity α = independent towers, mixing by hand, partition
// (with and without stages after the last unit), isolation, errors, training.
#include <gtest/gtest.h>

#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem_test;

nn::Sequential two_stage_tower() {
  return nn::Sequential(nn::Sequential(nn::Linear(4, 5), nn::ReLU()), nn::Sequential(nn::Linear(5, 3), nn::Tanh()));
}

mtl::CrossStitch make_cross_stitch(size_t tasks, const mtl::CrossStitchOptions& options = {}) {
  return mtl::CrossStitch(task_names(tasks), two_stage_tower, linear_heads(3, 2), options);
}

TEST(CrossStitch, OutputShapesAndNames) {
  manual_seed(20);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_cross_stitch(tasks);
    auto outputs = model->forward(randn({6, 4}));
    ASSERT_EQ(outputs.size(), tasks);
    for (const Tensor& out : outputs) EXPECT_EQ(out.sizes(), Dims({6, 2}));
    EXPECT_EQ(model->num_stages(), 2u);
    EXPECT_EQ(model->stitched_stages(), (std::vector<size_t>{0, 1}));
  }
  auto model = make_cross_stitch(2);
  const auto named = model->named_parameters();
  for (const char* name : {"towers.t0.0.0.weight", "towers.t1.1.0.bias", "stitches.0.alpha", "stitches.1.alpha",
                           "heads.t0.0.weight"})
    EXPECT_TRUE(named.contains(name)) << name;
}

TEST(CrossStitch, AlphaStartsNearIdentity) {
  auto model = make_cross_stitch(3);
  Tensor alpha = parameter(*model, "stitches.0.alpha");
  EXPECT_EQ(alpha.sizes(), Dims({3, 3}));
  auto values = alpha.to_vector<double>();
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j) EXPECT_NEAR(values[static_cast<size_t>(i * 3 + j)], i == j ? 0.9 : 0.05, 1e-7);
}

TEST(CrossStitch, IdentityAlphaEqualsIndependentTowers) {
  manual_seed(21);
  auto model = make_cross_stitch(3);
  {
    NoGradGuard no_grad;
    for (Tensor p : model->stitches->parameters()) p.copy_(eye(3));
  }
  Tensor x = randn({5, 4});
  auto outputs = model->forward(x);
  for (size_t t = 0; t < 3; ++t) {
    const std::string name = task_names(3)[t];
    Tensor tower = model->towers->ptr<nn::SequentialImpl>(name)->forward(x);
    Tensor expected = model->heads->ptr<nn::SequentialImpl>(name)->forward(tower);
    EXPECT_TRUE(allclose(outputs[t], expected, 1e-5, 1e-6));
  }
}

TEST(CrossStitchUnit, MixesByAlphaRows) {
  mtl::CrossStitchUnit unit(2, 0.9);
  Tensor a = tensor({1.0f, 2.0f, 3.0f, 4.0f}).reshape({2, 2}), b = tensor({10.0f, 20.0f, 30.0f, 40.0f}).reshape({2, 2});
  auto out = unit->forward({a, b});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(allclose(out[0], a * 0.9 + b * 0.1));
  EXPECT_TRUE(allclose(out[1], a * 0.1 + b * 0.9));
  expect_error([&] { unit->forward({a, b.reshape({4})}); }, {"CrossStitchUnit", "[4]"});
  expect_error([&] { unit->forward({a}); }, {"CrossStitchUnit", "1 activations for 2 tasks"});
}

TEST(CrossStitch, GradcheckThroughTheUnits) {
  manual_seed(22);
  auto model = make_cross_stitch(2);
  model->to(kFloat64);
  Tensor x = randn({2, 4}, TensorOptions(kFloat64).requires_grad(true));
  Tensor alpha = parameter(*model, "stitches.0.alpha");
  EXPECT_TRUE(autograd::gradcheck([&](const autograd::variable_list& in) { return model->forward(in[0]); },
                                  {x, alpha}));
}

TEST(CrossStitch, PartitionAndIsolation) {
  manual_seed(23);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_cross_stitch(tasks);
    expect_parameter_partition(*model);
    // A unit after every stage: only the heads are the tasks' own.
    EXPECT_EQ(model->task_parameters(0).size(), 2u);
    expect_task_isolation(*model, randn({6, 4}));
  }
  // A unit after stage 0 only: stage 1 of each tower belongs to its task.
  auto model = make_cross_stitch(2, mtl::CrossStitchOptions().stitch_after({0}));
  EXPECT_EQ(model->stitched_stages(), (std::vector<size_t>{0}));
  EXPECT_EQ(model->task_parameters(1).size(), 4u);
  EXPECT_TRUE(model->task_parameters(1)[0].is_same(parameter(*model, "towers.t1.1.0.weight")));
  expect_parameter_partition(*model);
  expect_task_isolation(*model, randn({6, 4}));
  EXPECT_EQ(model->last_shared_parameters().size(), 1u);  // the last unit's α
}

TEST(CrossStitch, PrettyPrintAndErrors) {
  manual_seed(24);
  auto model = make_cross_stitch(2);
  EXPECT_EQ(printed(*model), "CrossStitch(tasks=[t0, t1], stages=2, stitch_after=[0, 1])");
  expect_error([&] { model->forward(randn({3, 6})); }, {"CrossStitch", "[3, 6]"});
  expect_error([&] { make_cross_stitch(2, mtl::CrossStitchOptions().stitch_after({2})); },
               {"CrossStitch", "stage 2"});
  expect_error([&] { make_cross_stitch(2, mtl::CrossStitchOptions().stitch_after({1, 1})); }, {"CrossStitch", "twice"});
  int64_t width = 3;
  expect_error(
      [&] {
        auto tower = [&] { return nn::Sequential(nn::Linear(4, width++)); };
        mtl::CrossStitch(task_names(2), tower, linear_heads(3, 1));
      },
      {"CrossStitch", "structure"});
  bool tanh = false;
  expect_error(
      [&] {
        auto tower = [&] {
          tanh = !tanh;
          return tanh ? nn::Sequential(nn::Linear(4, 3), nn::Tanh()) : nn::Sequential(nn::Linear(4, 3), nn::ReLU());
        };
        mtl::CrossStitch(task_names(2), tower, linear_heads(3, 1));
      },
      {"CrossStitch", "stage 1", "ReLU", "Tanh", "structure"});
}

TEST(CrossStitch, StagesAreTheTowersChildrenOfAnyType) {
  // A flat tower: its children (Linear, ReLU, Linear, Tanh) are the stages; units after the two activations.
  manual_seed(26);
  auto flat = [] { return nn::Sequential(nn::Linear(4, 5), nn::ReLU(), nn::Linear(5, 3), nn::Tanh()); };
  auto model =
      mtl::CrossStitch(task_names(2), flat, linear_heads(3, 2), mtl::CrossStitchOptions().stitch_after({3, 1}));
  EXPECT_EQ(model->num_stages(), 4u);
  EXPECT_EQ(model->stitched_stages(), (std::vector<size_t>{1, 3}));
  EXPECT_TRUE(model->named_parameters().contains("towers.t1.2.weight"));
  // The same network written as two nested stages, with the same parameters, gives the same outputs.
  auto nested = make_cross_stitch(2);
  {
    NoGradGuard no_grad;
    auto source = model->named_parameters();
    for (auto& [name, p] : nested->named_parameters()) {
      std::string flat_name = name;
      if (name.rfind("towers.", 0) == 0) {  // towers.t0.1.0.weight -> towers.t0.2.weight
        const size_t stage_at = std::string("towers.t0.").size();
        const int stage = name[stage_at] - '0', child = name[stage_at + 2] - '0';
        flat_name = name.substr(0, stage_at) + std::to_string(2 * stage + child) + name.substr(stage_at + 3);
      }
      ASSERT_TRUE(source.contains(flat_name)) << flat_name;
      p.copy_(source[flat_name]);
    }
  }
  Tensor x = randn({6, 4});
  auto flat_out = model->forward(x), nested_out = nested->forward(x);
  for (size_t t = 0; t < 2; ++t) EXPECT_TRUE(allclose(flat_out[t], nested_out[t], 1e-6, 1e-6)) << t;
  // A unit after stage 1 only: stages 2 and 3 (Linear, Tanh) of each tower belong to its task.
  auto partial = mtl::CrossStitch(task_names(2), flat, linear_heads(3, 1), mtl::CrossStitchOptions().stitch_after({1}));
  EXPECT_EQ(partial->task_parameters(0).size(), 4u);  // towers.t0.2.{weight,bias}, heads.t0.0.{weight,bias}
  expect_training_lowers_loss(*partial, x, two_task_targets(x));
}

TEST(CrossStitch, AdamStepsLowerTheLoss) {
  manual_seed(25);
  Tensor x = randn({32, 4});
  auto targets = two_task_targets(x);
  auto tower = [] {
    return nn::Sequential(nn::Sequential(nn::Linear(4, 16), nn::ReLU()), nn::Sequential(nn::Linear(16, 8), nn::ReLU()));
  };
  auto model = mtl::CrossStitch(task_names(2), tower, linear_heads(8, 1));
  expect_training_lowers_loss(*model, x, targets);
}

}  // namespace
