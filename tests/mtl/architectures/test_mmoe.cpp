// MMoE (and its one-gate variant): shapes, names, gates summing to 1, the mixture by hand, gradcheck through the
// gates, encode/decode, partition and isolation, errors, training.
#include <gtest/gtest.h>

#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem_test;

mtl::MMoE make_mmoe(size_t tasks, bool shared_gate = false, int64_t experts = 3) {
  return mtl::MMoE(task_names(tasks), dense_factory(4, 5), linear_heads(5, 2),
                   mtl::MMoEOptions(4, experts).shared_gate(shared_gate));
}

TEST(MixExperts, WeighsTheExpertsPerSample) {
  Tensor experts = tensor({1.0f, 2.0f, 10.0f, 20.0f, 3.0f, 4.0f, 30.0f, 40.0f}).reshape({2, 2, 2});  // [N, E, d]
  Tensor weights = tensor({0.25f, 0.75f, 1.0f, 0.0f}).reshape({2, 2});
  Tensor mixed = mtl::mix_experts(experts, weights);
  EXPECT_TRUE(allclose(mixed, tensor({7.75f, 15.5f, 3.0f, 4.0f}).reshape({2, 2})));
  expect_error([&] { mtl::mix_experts(experts, ones({2, 3})); }, {"mix_experts", "[2, 3]"});
}

TEST(MMoE, OutputShapesAndNames) {
  manual_seed(30);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_mmoe(tasks);
    auto outputs = model->forward(randn({6, 4}));
    ASSERT_EQ(outputs.size(), tasks);
    for (const Tensor& out : outputs) EXPECT_EQ(out.sizes(), Dims({6, 2}));
  }
  auto model = make_mmoe(2);
  const auto named = model->named_parameters();
  for (const char* name : {"experts.0.0.weight", "experts.2.0.bias", "gates.t0.weight", "gates.t1.bias",
                           "towers.t1.0.weight"})
    EXPECT_TRUE(named.contains(name)) << name;
  EXPECT_EQ(named.keys().front(), "experts.0.0.weight");
  EXPECT_EQ(named.keys().back(), "towers.t1.0.bias");
}

TEST(MMoE, GatesSumToOneAndMixTheExperts) {
  manual_seed(31);
  auto model = make_mmoe(2, false, 4);
  Tensor x = randn({5, 4});
  auto gates = model->gate_weights(x);
  ASSERT_EQ(gates.size(), 2u);
  for (const Tensor& g : gates) {
    EXPECT_EQ(g.sizes(), Dims({5, 4}));
    expect_rows_sum_to_one(g);
  }
  // By hand: softmax(W x + b) for task 1, then the tower of the weighted expert sum.
  Tensor w = parameter(*model, "gates.t1.weight"), b = parameter(*model, "gates.t1.bias");
  EXPECT_TRUE(allclose(gates[1], (x.matmul(w.t()) + b).softmax(1), 1e-5, 1e-6));
  Tensor mixture = zeros({5, 5});
  for (int64_t e = 0; e < 4; ++e)
    mixture = mixture + gates[1].select(1, e).unsqueeze(1) * model->experts->ptr<nn::SequentialImpl>(e)->forward(x);
  Tensor expected = model->towers->ptr<nn::SequentialImpl>("t1")->forward(mixture);
  EXPECT_TRUE(allclose(model->forward(x)[1], expected, 1e-5, 1e-6));
}

TEST(MMoE, GradcheckThroughTheGates) {
  manual_seed(32);
  auto model = mtl::MMoE(task_names(2), dense_factory(3, 2), linear_heads(2, 1), mtl::MMoEOptions(3, 3));
  model->to(kFloat64);
  Tensor x = randn({3, 3}, TensorOptions(kFloat64).requires_grad(true));
  auto fn = [&](const autograd::variable_list& in) { return model->forward(in[0]); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x, parameter(*model, "gates.t0.weight"), parameter(*model, "gates.t1.bias"),
                                       parameter(*model, "experts.1.0.weight")}));
}

TEST(MMoE, EncodeDecodeEqualsForward) {
  manual_seed(33);
  auto model = make_mmoe(3);
  Tensor x = randn({5, 4});
  EXPECT_TRUE(model->has_representation());
  Tensor z = model->encode(x);
  EXPECT_EQ(z.sizes(), Dims({5, 3, 5}));
  auto direct = model->forward(x);
  auto composed = model->decode(z, x);
  auto from_leaf = model->decode(z.detach().requires_grad_(true), x);
  for (size_t t = 0; t < 3; ++t) {
    EXPECT_TRUE(allclose(direct[t], composed[t]));
    EXPECT_TRUE(allclose(direct[t], from_leaf[t]));
    EXPECT_TRUE(allclose(direct[t], model->forward_task(x, t)));
  }
}

TEST(MMoE, PartitionAndIsolation) {
  manual_seed(34);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_mmoe(tasks);
    expect_parameter_partition(*model);
    EXPECT_EQ(model->task_parameters(0).size(), 4u);  // gate weight and bias, tower weight and bias
    expect_task_isolation(*model, randn({6, 4}));
  }
  auto model = make_mmoe(2);
  EXPECT_EQ(model->last_shared_parameters().size(), 6u);  // the last Linear of each of the 3 experts
}

TEST(MMoE, SharedGateVariant) {
  manual_seed(35);
  auto model = make_mmoe(3, /*shared_gate=*/true);
  EXPECT_TRUE(model->named_parameters().contains("gate.weight"));
  EXPECT_FALSE(model->named_parameters().contains("gates.t0.weight"));
  auto gates = model->gate_weights(randn({4, 4}));
  EXPECT_TRUE(allclose(gates[0], gates[2]));
  expect_rows_sum_to_one(gates[0]);
  expect_parameter_partition(*model);
  EXPECT_EQ(model->task_parameters(0).size(), 2u);  // the tower only; the gate is shared
  expect_task_isolation(*model, randn({6, 4}));
  EXPECT_EQ(printed(*model), "MMoE(tasks=[t0, t1, t2], experts=3, input_features=4, shared_gate=true)");
}

TEST(MMoE, ImageInputsAreFlattenedForTheGates) {
  manual_seed(36);
  auto expert = [] { return nn::Sequential(nn::Conv2d(1, 2, 3), nn::Flatten(), nn::Linear(8, 3)); };
  auto model = mtl::MMoE(task_names(2), expert, linear_heads(3, 1), mtl::MMoEOptions(16, 2));
  auto outputs = model->forward(randn({3, 1, 4, 4}));
  EXPECT_EQ(outputs[0].sizes(), Dims({3, 1}));
}

TEST(MMoE, PrettyPrintAndErrors) {
  manual_seed(37);
  auto model = make_mmoe(2);
  EXPECT_EQ(printed(*model), "MMoE(tasks=[t0, t1], experts=3, input_features=4)");
  expect_error([&] { model->forward(randn({3, 6})); }, {"MMoE", "[3, 6]"});
  expect_error([&] { model->gate_weights(randn({3, 5})); }, {"MMoE", "5 values per sample", "expect 4"});
  expect_error([&] { model->forward(randn({3})); }, {"MMoE"});
  expect_error([&] { model->decode(randn({3, 2, 5}), randn({3, 4})); }, {"MMoE", "[3, 2, 5]"});
  expect_error([&] { model->decode(randn({3, 3, 5}), randn({2, 4})); }, {"MMoE", "3 samples"});
  expect_error([&] { make_mmoe(2, false, 0); }, {"MMoE", "num_experts"});
  int64_t width = 4;
  expect_error(
      [&] {
        auto m = mtl::MMoE(task_names(2), [&] { return nn::Sequential(nn::Linear(4, width++)); }, linear_heads(5, 1),
                           mtl::MMoEOptions(4, 2));
        m->forward(randn({2, 4}));
      },
      {"MMoE", "same shape"});
}

TEST(MMoE, AdamStepsLowerTheLoss) {
  manual_seed(38);
  Tensor x = randn({32, 4});
  auto targets = two_task_targets(x);
  auto model = mtl::MMoE(task_names(2), dense_factory(4, 8), [](size_t) { return mlp(8, 8, 1); },
                         mtl::MMoEOptions(4, 4));
  expect_training_lowers_loss(*model, x, targets);
}

}  // namespace
