// CGC and its extraction layer: shapes, names, gates over (shared + own) experts summing to 1, the mixture by
// hand, gradcheck through the gates, partition and isolation, forward_task, errors, training.
#include <gtest/gtest.h>

#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem_test;

mtl::CGC make_cgc(size_t tasks, int64_t shared = 2, int64_t own = 1) {
  return mtl::CGC(task_names(tasks), dense_factory(4, 5), linear_heads(5, 2), mtl::CGCOptions(4, shared, own));
}

TEST(CGC, OutputShapesAndNames) {
  manual_seed(40);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_cgc(tasks);
    auto outputs = model->forward(randn({6, 4}));
    ASSERT_EQ(outputs.size(), tasks);
    for (const Tensor& out : outputs) EXPECT_EQ(out.sizes(), Dims({6, 2}));
  }
  auto model = make_cgc(2);
  const auto named = model->named_parameters();
  for (const char* name : {"shared_experts.0.0.weight", "shared_experts.1.0.bias", "task_experts.t0.0.0.weight",
                           "task_experts.t1.0.0.bias", "gates.t0.weight", "gates.t1.bias", "towers.t1.0.weight"})
    EXPECT_TRUE(named.contains(name)) << name;
  EXPECT_EQ(parameter(*model, "gates.t0.weight").sizes(), Dims({3, 4}));  // 2 shared + 1 own experts
}

TEST(CGC, GatesWeighSharedAndOwnExperts) {
  manual_seed(41);
  auto model = make_cgc(2, 2, 2);
  Tensor x = randn({5, 4});
  auto gates = model->gate_weights(x);
  ASSERT_EQ(gates.size(), 2u);
  for (const Tensor& g : gates) {
    EXPECT_EQ(g.sizes(), Dims({5, 4}));
    expect_rows_sum_to_one(g);
  }
  // By hand for task 1: softmax gate over [shared 0, shared 1, own 0, own 1].
  Tensor w = parameter(*model, "gates.t1.weight"), b = parameter(*model, "gates.t1.bias");
  Tensor g = (x.matmul(w.t()) + b).softmax(1);
  EXPECT_TRUE(allclose(gates[1], g, 1e-5, 1e-6));
  std::vector<Tensor> experts{model->shared_experts->ptr<nn::SequentialImpl>(0)->forward(x),
                              model->shared_experts->ptr<nn::SequentialImpl>(1)->forward(x)};
  auto own = model->task_experts->ptr<nn::ModuleListImpl>("t1");
  experts.push_back(own->ptr<nn::SequentialImpl>(0)->forward(x));
  experts.push_back(own->ptr<nn::SequentialImpl>(1)->forward(x));
  Tensor mixture = zeros({5, 5});
  for (int64_t e = 0; e < 4; ++e) mixture = mixture + g.select(1, e).unsqueeze(1) * experts[static_cast<size_t>(e)];
  Tensor expected = model->towers->ptr<nn::SequentialImpl>("t1")->forward(mixture);
  EXPECT_TRUE(allclose(model->forward(x)[1], expected, 1e-5, 1e-6));
  EXPECT_TRUE(allclose(model->forward_task(x, 1), expected, 1e-5, 1e-6));
}

TEST(CGC, GradcheckThroughTheGates) {
  manual_seed(42);
  auto model = mtl::CGC(task_names(2), dense_factory(3, 2), linear_heads(2, 1), mtl::CGCOptions(3, 1, 1));
  model->to(kFloat64);
  Tensor x = randn({3, 3}, TensorOptions(kFloat64).requires_grad(true));
  auto fn = [&](const autograd::variable_list& in) { return model->forward(in[0]); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x, parameter(*model, "gates.t0.weight"), parameter(*model, "gates.t1.bias"),
                                       parameter(*model, "shared_experts.0.0.weight")}));
}

TEST(CGC, PartitionAndIsolation) {
  manual_seed(43);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_cgc(tasks);
    expect_parameter_partition(*model);
    EXPECT_EQ(model->task_parameters(0).size(), 6u);  // own expert (2), gate (2), tower (2)
    EXPECT_EQ(model->shared_parameters().size(), 4u);  // the two shared experts
    expect_task_isolation(*model, randn({6, 4}));
  }
  EXPECT_EQ(make_cgc(2)->last_shared_parameters().size(), 4u);
}

TEST(CGC, ExtractionLayerWithSharedGate) {
  manual_seed(44);
  mtl::ExtractionLayer layer("Test", 0, task_names(3), 4, 2, 1, dense_factory(4, 5), /*with_shared_gate=*/true);
  Tensor x = randn({3, 4});
  auto out = layer->forward({x, x, x}, x);
  EXPECT_EQ(out.shared_gate_weights.sizes(), Dims({3, 5}));  // 2 shared + 3 tasks x 1 own
  expect_rows_sum_to_one(out.shared_gate_weights);
  EXPECT_EQ(out.shared_output.sizes(), Dims({3, 5}));
  EXPECT_EQ(out.task_outputs.size(), 3u);
  EXPECT_EQ(printed(*layer), "ExtractionLayer(level=0, shared_experts=2, task_experts=1, shared_gate=true)");
  // One task only: the others are left undefined.
  auto one = layer->forward({x, x, x}, x, 1);
  EXPECT_FALSE(one.task_outputs[0].defined());
  EXPECT_TRUE(allclose(one.task_outputs[1], out.task_outputs[1]));
}

TEST(CGC, PrettyPrintAndErrors) {
  manual_seed(45);
  auto model = make_cgc(2);
  EXPECT_EQ(printed(*model), "CGC(tasks=[t0, t1], shared_experts=2, task_experts=1, input_features=4)");
  expect_error([&] { model->forward(randn({3, 6})); }, {"CGC", "[3, 6]"});
  expect_error([&] { model->forward_task(randn({3, 4}), 2); }, {"CGC", "out of range"});
  expect_error([&] { make_cgc(2, 0, 0); }, {"CGC", "at least one expert"});
  // Experts only: no shared experts is allowed (then nothing is shared but the input).
  auto private_only = make_cgc(2, 0, 2);
  EXPECT_TRUE(private_only->shared_parameters().empty());
  expect_error([&] { private_only->last_shared_parameters(); }, {"CGC", "shared experts"});
}

TEST(CGC, AdamStepsLowerTheLoss) {
  manual_seed(46);
  Tensor x = randn({32, 4});
  auto targets = two_task_targets(x);
  auto model = mtl::CGC(task_names(2), dense_factory(4, 8), [](size_t) { return mlp(8, 8, 1); },
                        mtl::CGCOptions(4, 2, 1));
  expect_training_lowers_loss(*model, x, targets);
}

}  // namespace
