// PLE: shapes, names, gates of every level summing to 1, the level wiring by hand, gradcheck through the task and
// shared gates, the data-flow partition (lower-level private experts reach every task), errors, training.
#include <gtest/gtest.h>

#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem_test;

mtl::LevelModuleFactory level_experts(int64_t in, int64_t width) {
  return [in, width](int64_t level) {
    return nn::Sequential(nn::Linear(level == 0 ? in : width, width), nn::Tanh());
  };
}

mtl::PLE make_ple(size_t tasks, int64_t levels = 2, int64_t shared = 2, int64_t own = 1) {
  return mtl::PLE(task_names(tasks), level_experts(4, 5), linear_heads(5, 2), mtl::PLEOptions(4, 5, levels, shared, own));
}

TEST(PLE, OutputShapesAndNames) {
  manual_seed(50);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_ple(tasks);
    auto outputs = model->forward(randn({6, 4}));
    ASSERT_EQ(outputs.size(), tasks);
    for (const Tensor& out : outputs) EXPECT_EQ(out.sizes(), Dims({6, 2}));
  }
  auto model = make_ple(2, 3);
  const auto named = model->named_parameters();
  for (const char* name : {"levels.0.shared_experts.0.0.weight", "levels.0.task_experts.t1.0.0.weight",
                           "levels.0.gates.t0.weight", "levels.0.shared_gate.weight", "levels.1.shared_gate.bias",
                           "levels.2.gates.t1.bias", "towers.t0.0.weight"})
    EXPECT_TRUE(named.contains(name)) << name;
  EXPECT_FALSE(named.contains("levels.2.shared_gate.weight"));  // no shared gate at the last level
  EXPECT_EQ(parameter(*model, "levels.0.shared_experts.0.0.weight").sizes(), Dims({5, 4}));
  EXPECT_EQ(parameter(*model, "levels.1.shared_experts.0.0.weight").sizes(), Dims({5, 5}));
  EXPECT_EQ(parameter(*model, "levels.0.shared_gate.weight").sizes(), Dims({4, 4}));  // 2 shared + 2 x 1 own
  EXPECT_EQ(parameter(*model, "levels.1.gates.t0.weight").sizes(), Dims({3, 5}));
}

TEST(PLE, GatesOfEveryLevelSumToOne) {
  manual_seed(51);
  auto model = make_ple(3, 3);
  auto levels = model->gate_weights(randn({4, 4}));
  ASSERT_EQ(levels.size(), 3u);
  for (size_t l = 0; l < 3; ++l) {
    ASSERT_EQ(levels[l].task.size(), 3u);
    for (const Tensor& g : levels[l].task) {
      EXPECT_EQ(g.sizes(), Dims({4, 3}));
      expect_rows_sum_to_one(g);
    }
    if (l < 2) {
      EXPECT_EQ(levels[l].shared.sizes(), Dims({4, 5}));
      expect_rows_sum_to_one(levels[l].shared);
    } else {
      EXPECT_FALSE(levels[l].shared.defined());
    }
  }
}

TEST(PLE, TwoLevelsWiredByHand) {
  manual_seed(52);
  auto model = make_ple(2, 2, 1, 1);
  Tensor x = randn({3, 4});
  auto level = [&](size_t l) { return model->levels->ptr<mtl::ExtractionLayerImpl>(l); };
  auto run = [](const std::shared_ptr<nn::Module>& m, const Tensor& in) {
    return std::dynamic_pointer_cast<nn::SequentialImpl>(m)->forward(in);
  };
  auto gate = [](const std::shared_ptr<nn::Module>& m, const Tensor& in) {
    return std::dynamic_pointer_cast<nn::LinearImpl>(m)->forward(in).softmax(1);
  };
  auto mix = [](const Tensor& g, const std::vector<Tensor>& experts) {
    Tensor out = g.select(1, 0).unsqueeze(1) * experts[0];
    for (size_t e = 1; e < experts.size(); ++e) out = out + g.select(1, static_cast<int64_t>(e)).unsqueeze(1) * experts[e];
    return out;
  };
  // Level 0: everything reads x.
  auto l0 = level(0);
  Tensor s0 = run((*l0->shared_experts)[0], x);
  Tensor p0 = run(l0->task_experts->ptr<nn::ModuleListImpl>("t0")->ptr(0), x);
  Tensor p1 = run(l0->task_experts->ptr<nn::ModuleListImpl>("t1")->ptr(0), x);
  Tensor task0 = mix(gate(l0->gates["t0"], x), {s0, p0});
  Tensor task1 = mix(gate(l0->gates["t1"], x), {s0, p1});
  Tensor shared = mix(gate(l0->shared_gate.ptr(), x), {s0, p0, p1});
  // Level 1: the shared experts read the shared mixture, task t's experts and gate read task t's mixture.
  auto l1 = level(1);
  Tensor s1 = run((*l1->shared_experts)[0], shared);
  Tensor q1 = run(l1->task_experts->ptr<nn::ModuleListImpl>("t1")->ptr(0), task1);
  Tensor out1 = mix(gate(l1->gates["t1"], task1), {s1, q1});
  Tensor expected = model->towers->ptr<nn::SequentialImpl>("t1")->forward(out1);
  EXPECT_TRUE(allclose(model->forward(x)[1], expected, 1e-5, 1e-6));
  (void)task0;
}

TEST(PLE, GradcheckThroughTaskAndSharedGates) {
  manual_seed(53);
  auto model = mtl::PLE(task_names(2), level_experts(3, 2), linear_heads(2, 1), mtl::PLEOptions(3, 2, 2, 1, 1));
  model->to(kFloat64);
  Tensor x = randn({2, 3}, TensorOptions(kFloat64).requires_grad(true));
  auto fn = [&](const autograd::variable_list& in) { return model->forward(in[0]); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x, parameter(*model, "levels.0.shared_gate.weight"),
                                       parameter(*model, "levels.0.gates.t1.weight"),
                                       parameter(*model, "levels.1.gates.t0.bias")}));
}

TEST(PLE, PartitionFollowsTheDataFlow) {
  manual_seed(54);
  for (size_t tasks : {2u, 3u}) {
    for (int64_t levels : {1, 2, 3}) {
      auto model = make_ple(tasks, levels);
      expect_parameter_partition(*model);
      expect_task_isolation(*model, randn({6, 4}));
    }
  }
  // Three levels: task t owns its tower, its gates of levels 1 and 2 and its experts of level 2.
  auto model = make_ple(2, 3);
  auto own = model->task_parameters(0);
  EXPECT_EQ(own.size(), 8u);
  for (const char* name : {"levels.1.gates.t0.weight", "levels.2.task_experts.t0.0.0.weight", "levels.2.gates.t0.bias",
                           "towers.t0.0.weight"})
    EXPECT_TRUE(contains(own, parameter(*model, name))) << name;
  // A private expert below the last level feeds the shared gate, so another task's loss reaches it.
  model->zero_grad();
  model->forward(randn({6, 4}))[0].square().mean().backward();
  EXPECT_TRUE(has_nonzero_grad(parameter(*model, "levels.0.task_experts.t1.0.0.weight")));
  EXPECT_TRUE(has_nonzero_grad(parameter(*model, "levels.0.gates.t1.weight")));
  EXPECT_EQ(model->last_shared_parameters().size(), 4u);  // the 2 shared experts of the last level
}

TEST(PLE, PrettyPrintAndErrors) {
  manual_seed(55);
  auto model = make_ple(2);
  EXPECT_EQ(printed(*model),
            "PLE(tasks=[t0, t1], levels=2, shared_experts=2, task_experts=1, input_features=4, expert_features=5)");
  expect_error([&] { model->forward(randn({3, 6})); }, {"PLE", "[3, 6]"});
  expect_error([&] { make_ple(2, 0); }, {"PLE", "num_levels"});
  // Experts of level 1 whose output width differs from expert_features: the level-1 gates say so.
  auto wrong = mtl::PLE(task_names(2), level_experts(4, 5), linear_heads(5, 2), mtl::PLEOptions(4, 6, 2, 1, 1));
  expect_error([&] { wrong->forward(randn({3, 4})); }, {"PLE", "level 1"});
}

TEST(PLE, AdamStepsLowerTheLoss) {
  manual_seed(56);
  Tensor x = randn({32, 4});
  auto targets = two_task_targets(x);
  auto model = mtl::PLE(task_names(2), level_experts(4, 8), [](size_t) { return mlp(8, 8, 1); },
                        mtl::PLEOptions(4, 8, 2, 2, 1));
  expect_training_lowers_loss(*model, x, targets);
}

}  // namespace
