// DSelect-k: the smooth step, the gate (sums to 1, one-hot once saturated, also for E not a power of two),
// gradcheck, encode/decode, partition and isolation, the entropy regulariser, errors, training.
#include <gtest/gtest.h>

#include <cmath>

#include "test_helpers.h"

namespace {

using namespace tandem;
using namespace tandem_test;

mtl::DSelectK make_dselect_k(size_t tasks, int64_t experts = 4, int64_t k = 2, double gamma = 1.0,
                             double entropy = 0.0) {
  return mtl::DSelectK(task_names(tasks), dense_factory(4, 5), linear_heads(5, 2),
                       mtl::DSelectKOptions(4, experts, k).gamma(gamma).entropy_regularization(entropy));
}

/// Makes task `task`'s single selector (k = 1) pick a fixed code: z = ±2 (saturated for γ = 1) whatever x.
void saturate_selector(mtl::DSelectK& model, const std::string& task, const std::vector<float>& logits) {
  NoGradGuard no_grad;
  auto gate = model->gates->ptr<mtl::DSelectKGateImpl>(task);
  gate->selector_logits->weight.zero_();
  gate->selector_logits->bias.copy_(tensor(logits));
}

TEST(DSelectK, SmoothStepValuesAndGradient) {
  Tensor t = tensor({-2.0, -0.5, -0.25, 0.0, 0.25, 0.5, 2.0});
  auto s = mtl::smooth_step(t, 1.0).to_vector<double>();
  const std::vector<double> expected{0.0, 0.0, 0.15625, 0.5, 0.84375, 1.0, 1.0};
  for (size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(s[i], expected[i], 1e-12) << "at " << i;
  // γ = 4: the cubic spans [−2, 2]; S(1) = −2/64 + 3/8 + 1/2.
  EXPECT_NEAR(mtl::smooth_step(tensor({1.0}), 4.0).item<double>(), -2.0 / 64 + 3.0 / 8 + 0.5, 1e-12);
  Tensor x = tensor({-0.4, -0.1, 0.2, 0.45, 1.5, -3.0}, TensorOptions(kFloat64).requires_grad(true));
  EXPECT_TRUE(autograd::gradcheck([](const autograd::variable_list& in) { return mtl::smooth_step(in[0]); }, {x}));
  EXPECT_TRUE(autograd::gradgradcheck([](const autograd::variable_list& in) { return mtl::smooth_step(in[0]); }, {x}));
  expect_error([&] { mtl::smooth_step(t, 0.0); }, {"smooth_step", "gamma"});
}

TEST(DSelectK, OutputShapesAndNames) {
  manual_seed(60);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_dselect_k(tasks);
    auto outputs = model->forward(randn({6, 4}));
    ASSERT_EQ(outputs.size(), tasks);
    for (const Tensor& out : outputs) EXPECT_EQ(out.sizes(), Dims({6, 2}));
  }
  auto model = make_dselect_k(2, 8, 3);
  const auto named = model->named_parameters();
  for (const char* name : {"experts.7.0.weight", "gates.t0.selector_logits.weight", "gates.t1.selector_weights.bias",
                           "towers.t0.0.weight"})
    EXPECT_TRUE(named.contains(name)) << name;
  EXPECT_EQ(parameter(*model, "gates.t0.selector_logits.weight").sizes(), Dims({9, 4}));  // k = 3 selectors x 3 bits
  EXPECT_EQ(parameter(*model, "gates.t0.selector_weights.weight").sizes(), Dims({3, 4}));
}

TEST(DSelectK, GatesSumToOne) {
  manual_seed(61);
  for (int64_t experts : {2, 3, 4, 5, 8}) {
    auto model = make_dselect_k(2, experts, 2, 3.0);
    for (const Tensor& g : model->gate_weights(randn({7, 4}) * 2.0)) {
      EXPECT_EQ(g.sizes(), Dims({7, experts}));
      expect_rows_sum_to_one(g);
    }
  }
}

TEST(DSelectK, SaturatedSingleSelectorPicksOneExpert) {
  manual_seed(62);
  auto model = make_dselect_k(2, 4, /*k=*/1);
  // Code 0b01 = expert 1 for task 0, code 0b10 = expert 2 for task 1.
  saturate_selector(model, "t0", {2.0f, -2.0f});
  saturate_selector(model, "t1", {-2.0f, 2.0f});
  Tensor x = randn({5, 4});
  auto gates = model->gate_weights(x);
  for (int64_t n = 0; n < 5; ++n) {
    EXPECT_EQ(gates[0][n].to_vector<float>(), (std::vector<float>{0, 1, 0, 0}));
    EXPECT_EQ(gates[1][n].to_vector<float>(), (std::vector<float>{0, 0, 1, 0}));
  }
  Tensor expert1 = model->experts->ptr<nn::SequentialImpl>(1)->forward(x);
  EXPECT_TRUE(allclose(model->forward(x)[0], model->towers->ptr<nn::SequentialImpl>("t0")->forward(expert1)));
  // Saturated: no gradient reaches the selector logits.
  model->forward(x)[0].sum().backward();
  Tensor grad = parameter(*model, "gates.t0.selector_logits.weight").grad();
  EXPECT_TRUE(!grad.defined() || grad.abs().max().item<double>() == 0);
}

TEST(DSelectK, UnusedCodesFoldOntoExperts) {
  manual_seed(63);
  auto model = make_dselect_k(2, 3, /*k=*/1);  // 2 bits, 4 codes for 3 experts: code 3 stands for expert 0
  saturate_selector(model, "t0", {2.0f, 2.0f});
  saturate_selector(model, "t1", {-2.0f, 2.0f});
  auto gates = model->gate_weights(randn({2, 4}));
  EXPECT_EQ(gates[0][0].to_vector<float>(), (std::vector<float>{1, 0, 0}));
  EXPECT_EQ(gates[1][1].to_vector<float>(), (std::vector<float>{0, 0, 1}));
}

TEST(DSelectK, GateMatchesTheFormula) {
  manual_seed(64);
  auto model = make_dselect_k(1, 4, 2, 2.0);
  Tensor x = randn({3, 4});
  auto gate = model->gates->ptr<mtl::DSelectKGateImpl>("t0");
  Tensor z = gate->selector_logits->forward(x).reshape({3, 2, 2});
  Tensor w = gate->selector_weights->forward(x).softmax(1);
  Tensor s = mtl::smooth_step(z, 2.0);
  std::vector<Tensor> columns(4, zeros({3}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t e = 0; e < 4; ++e) {
      Tensor r = ones({3});
      for (int64_t b = 0; b < 2; ++b) {
        Tensor sb = s.select(1, i).select(1, b);
        r = r * (((e >> b) & 1) ? sb : 1.0 - sb);
      }
      columns[static_cast<size_t>(e)] = columns[static_cast<size_t>(e)] + w.select(1, i) * r;
    }
  Tensor expected = stack(columns, 1);
  EXPECT_TRUE(allclose(model->gate_weights(x)[0], expected, 1e-5, 1e-6));
}

TEST(DSelectK, GradcheckThroughTheGates) {
  manual_seed(65);
  auto model = mtl::DSelectK(task_names(2), dense_factory(3, 2), linear_heads(2, 1),
                             mtl::DSelectKOptions(3, 3, 2).gamma(10.0));
  model->to(kFloat64);
  Tensor x = randn({2, 3}, TensorOptions(kFloat64).requires_grad(true));
  auto fn = [&](const autograd::variable_list& in) { return model->forward(in[0]); };
  EXPECT_TRUE(autograd::gradcheck(fn, {x, parameter(*model, "gates.t0.selector_logits.weight"),
                                       parameter(*model, "gates.t1.selector_weights.bias")}));
}

TEST(DSelectK, EncodeDecodePartitionAndIsolation) {
  manual_seed(66);
  for (size_t tasks : {2u, 3u}) {
    auto model = make_dselect_k(tasks, 4, 2, 4.0);
    Tensor x = randn({5, 4});
    auto direct = model->forward(x);
    auto composed = model->decode(model->encode(x), x);
    for (size_t t = 0; t < tasks; ++t) EXPECT_TRUE(allclose(direct[t], composed[t]));
    expect_parameter_partition(*model);
    EXPECT_EQ(model->task_parameters(0).size(), 6u);  // two gate Linears, the tower
    expect_task_isolation(*model, randn({6, 4}));
  }
}

TEST(DSelectK, EntropyRegularization) {
  manual_seed(67);
  auto off = make_dselect_k(2);
  off->forward(randn({3, 4}));
  EXPECT_FALSE(off->regularization().defined());

  const double lambda = 0.5;
  auto model = make_dselect_k(2, 4, 2, 4.0, lambda);
  Tensor x = randn({3, 4});
  model->forward(x);
  Tensor reg = model->regularization();
  ASSERT_TRUE(reg.defined());
  // By hand: λ Σ_t Σ_i mean_n −Σ_e r log r over each selector's weights.
  double expected = 0;
  for (const char* task : {"t0", "t1"}) {
    auto out = model->gates->ptr<mtl::DSelectKGateImpl>(task)->evaluate(x);
    auto r = out.selections.to_vector<double>();  // [3, 2, 4]
    for (size_t i = 0; i < r.size(); ++i) expected -= r[i] * std::log(r[i] + 1e-12) / 3.0;
  }
  EXPECT_NEAR(reg.item<double>(), lambda * expected, 1e-5);
  reg.backward();
  EXPECT_TRUE(has_nonzero_grad(parameter(*model, "gates.t0.selector_logits.weight")));
  // It is consumed: a second call without a forward pass has nothing to add.
  EXPECT_FALSE(model->regularization().defined());

  // Saturated one-hot selectors have zero entropy.
  auto sharp = make_dselect_k(1, 4, 1, 1.0, lambda);
  saturate_selector(sharp, "t0", {2.0f, 2.0f});
  sharp->forward(x);
  EXPECT_NEAR(sharp->regularization().item<double>(), 0.0, 1e-9);
}

TEST(DSelectK, PrettyPrintAndErrors) {
  manual_seed(68);
  auto model = make_dselect_k(2, 4, 2);
  EXPECT_EQ(printed(*model), "DSelectK(tasks=[t0, t1], experts=4, k=2, gamma=1, input_features=4)");
  EXPECT_EQ(printed(*model->gates->ptr<mtl::DSelectKGateImpl>("t0")),
            "DSelectKGate(input_features=4, experts=4, k=2, gamma=1)");
  expect_error([&] { model->forward(randn({3, 6})); }, {"DSelectK", "[3, 6]"});
  expect_error([&] { make_dselect_k(2, 1); }, {"DSelectK", "at least 2 experts"});
  expect_error([&] { make_dselect_k(2, 4, 0); }, {"DSelectK", "k must be"});
  expect_error([&] { make_dselect_k(2, 4, 1, -1.0); }, {"DSelectK", "gamma"});
  expect_error([&] { make_dselect_k(2, 4, 1, 1.0, -0.1); }, {"DSelectK", "entropy_regularization"});
}

TEST(DSelectK, AdamStepsLowerTheLoss) {
  manual_seed(69);
  Tensor x = randn({32, 4});
  auto targets = two_task_targets(x);
  auto model = mtl::DSelectK(task_names(2), dense_factory(4, 8), [](size_t) { return mlp(8, 8, 1); },
                             mtl::DSelectKOptions(4, 4, 2).entropy_regularization(1e-3));
  expect_training_lowers_loss(*model, x, targets);
}

}  // namespace
