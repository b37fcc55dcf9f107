// Tasks: per-sample losses, masked means for partial labels, metric accumulation; the model interface defaults;
// the registry and options; the in-memory multi-task loader.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <tandem.h>

#include "mtl/core/tiny_model.h"

using namespace tandem;
using tandem::mtl::testing::TinyModel;

TEST(MtlTask, MaskedMeanAveragesOnlyLabelledSamples) {
  Tensor losses = tensor({1.0, 2.0, 3.0, 40.0}, kFloat64).requires_grad_(true);
  Tensor mask = tensor({1.0, 1.0, 1.0, 0.0}, kFloat64);
  Tensor m = mtl::masked_mean(losses, mask);
  EXPECT_DOUBLE_EQ(m.item<double>(), 2.0);
  m.backward();
  EXPECT_EQ(losses.grad().to_vector<double>(), (std::vector<double>{1.0 / 3, 1.0 / 3, 1.0 / 3, 0.0}));
  EXPECT_DOUBLE_EQ(mtl::masked_mean(losses).item<double>(), 11.5);
}

TEST(MtlTask, NoLabelledSampleGivesZeroWithoutNaN) {
  Tensor losses = tensor({std::nan(""), 2.0}, kFloat64).requires_grad_(true);
  Tensor m = mtl::masked_mean(losses, tensor({0.0, 0.0}, kFloat64));
  EXPECT_EQ(m.item<double>(), 0.0);
  m.backward();
  EXPECT_EQ(losses.grad().to_vector<double>(), (std::vector<double>{0.0, 0.0}));
}

TEST(MtlTask, TaskLossChecksPerSampleShape) {
  mtl::Task bad{"bad", [](const Tensor& o, const Tensor& t) { return mse_loss(o, t); }, {}, {}};
  EXPECT_THROW(mtl::task_loss(bad, randn({4, 1}), randn({4, 1})), Error);
  mtl::Task good{"good", mtl::losses::mse(), {}, {}};
  Tensor out = randn({4, 2}), target = randn({4, 2});
  EXPECT_NEAR(mtl::task_loss(good, out, target).item<float>(), mse_loss(out, target).item<float>(), 1e-6);
  mtl::Task cls{"cls", mtl::losses::cross_entropy(), {}, {}};
  Tensor logits = randn({5, 3}), labels = tensor({0L, 2L, 1L, 1L, 0L});
  EXPECT_NEAR(mtl::task_loss(cls, logits, labels).item<float>(), cross_entropy(logits, labels).item<float>(), 1e-6);
}

TEST(MtlTask, MetricsAccumulateOverBatchesAndMasks) {
  mtl::MetricAccumulator acc({mtl::metrics::accuracy()});
  // Batch 1: predictions 1, 0 (labels 1, 1) -> 1 of 2 correct; batch 2 masked: only the first sample counts.
  acc.update(tensor({0.1f, 0.9f, 0.8f, 0.2f}).reshape({2, 2}), tensor({1L, 1L}));
  acc.update(tensor({0.3f, 0.7f, 0.6f, 0.4f}).reshape({2, 2}), tensor({1L, 1L}), tensor({1.0f, 0.0f}));
  auto v = acc.compute();
  EXPECT_DOUBLE_EQ(v[0], 2.0 / 3.0);
  EXPECT_TRUE(acc.metrics()[0].higher_is_better);
  EXPECT_FALSE(mtl::metrics::mse().higher_is_better);
  mtl::MetricAccumulator reg({mtl::metrics::mse(), mtl::metrics::mae(), mtl::metrics::rmse()});
  reg.update(tensor({1.0f, 3.0f}), tensor({0.0f, 1.0f}));
  auto r = reg.compute();
  EXPECT_DOUBLE_EQ(r[0], 2.5);
  EXPECT_DOUBLE_EQ(r[1], 1.5);
  EXPECT_DOUBLE_EQ(r[2], std::sqrt(2.5));
  mtl::MetricAccumulator empty({mtl::metrics::mae()});
  EXPECT_TRUE(std::isnan(empty.compute()[0]));
}

TEST(MtlModel, SharedParametersAreTheComplementOfTheTaskParameters) {
  TinyModel model;
  EXPECT_EQ(model->shared_parameter_names(), (std::vector<std::string>{"encoder.weight", "encoder.bias"}));
  EXPECT_EQ(model->num_tasks(), 2u);
  EXPECT_EQ(model->task_index("b"), 1u);
  EXPECT_THROW(model->task_index("c"), Error);
  EXPECT_TRUE(allclose(model->forward_task(randn({2, 3}, kFloat64).fill_(0.5), 1),
                       model->forward(randn({2, 3}, kFloat64).fill_(0.5))[1]));
}

TEST(MtlWeightingRegistry, MakesMethodsByNameWithOptions) {
  auto names = mtl::weighting_names();
  EXPECT_TRUE(std::set<std::string>(names.begin(), names.end()).count("ew"));
  auto fixed = std::dynamic_pointer_cast<mtl::Fixed>(mtl::make_weighting("fixed:w0=0.5,w1=2", 2));
  ASSERT_NE(fixed, nullptr);
  EXPECT_EQ(fixed->weights(), (std::vector<double>{0.5, 2.0}));
  EXPECT_THROW(mtl::make_weighting("no_such_method", 2), Error);
  EXPECT_THROW(mtl::make_weighting("fixed:w9=1", 2), Error);
  EXPECT_THROW(mtl::make_weighting("fixed:w0=abc", 2), Error);
  EXPECT_THROW(mtl::make_weighting("fixed:w0", 2), Error);
  EXPECT_FALSE(mtl::is_gradient_method("ew"));
}

TEST(MtlWeightingRegistry, UserMethodsCanBeRegistered) {
  mtl::register_weighting("half", [](size_t n, const mtl::WeightingOptions&) {
    return std::make_shared<mtl::Fixed>(std::vector<double>(n, 0.5));
  });
  auto m = mtl::make_weighting("half", 3);
  EXPECT_EQ(std::dynamic_pointer_cast<mtl::Fixed>(m)->weights(), (std::vector<double>{0.5, 0.5, 0.5}));
}

TEST(MtlEW, BackwardOfTheSumAndFixedWeights) {
  manual_seed(5);
  TinyModel model;
  Tensor x = randn({4, 3}, kFloat64), y = randn({4, 2}, kFloat64);
  auto out = model->forward(x);
  std::vector<Tensor> losses{mse_loss(out[0], y.narrow(1, 0, 1)), mse_loss(out[1], y.narrow(1, 1, 1))};
  Tensor expected = autograd::grad({losses[0] * 3.0 + losses[1]}, {model->encoder->weight}, {}, true)[0];
  mtl::Fixed fixed({3.0, 1.0});
  mtl::StepContext context{*model, losses};
  auto report = fixed.backward(context);
  EXPECT_EQ(report.weights, (std::vector<double>{3.0, 1.0}));
  EXPECT_TRUE(allclose(model->encoder->weight.grad(), expected));
}

TEST(MtlLoader, BatchesCoverTheDatasetInASeededOrder) {
  Tensor x = arange(10.0, kFloat32).reshape({10, 1});
  mtl::MultiTaskDataset data{x, {arange(10.0, kInt64), arange(10.0, kFloat32) * 2.0}, {Tensor(), (arange(10.0) < 5.0).to(kFloat32)}};
  mtl::MultiTaskLoader loader(data, 4, true, 7);
  EXPECT_EQ(loader.size(), 3u);
  std::multiset<int64_t> seen;
  std::vector<int64_t> first_order;
  for (mtl::MultiTaskBatch b : loader.epoch(0)) {
    auto rows = b.input.reshape({-1}).to(kInt64).to_vector<int64_t>();
    EXPECT_EQ(b.targets[0].to_vector<int64_t>(), rows);
    EXPECT_FALSE(b.masks[0].defined());
    ASSERT_TRUE(b.masks[1].defined());
    for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(b.masks[1].to_vector<float>()[i], rows[i] < 5 ? 1.0f : 0.0f);
    seen.insert(rows.begin(), rows.end());
    first_order.insert(first_order.end(), rows.begin(), rows.end());
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 10u);
  std::vector<int64_t> again, other;
  for (mtl::MultiTaskBatch b : loader.epoch(0)) for (auto v : b.input.reshape({-1}).to(kInt64).to_vector<int64_t>()) again.push_back(v);
  for (mtl::MultiTaskBatch b : loader.epoch(1)) for (auto v : b.input.reshape({-1}).to(kInt64).to_vector<int64_t>()) other.push_back(v);
  EXPECT_EQ(again, first_order);
  EXPECT_NE(other, first_order);
  EXPECT_EQ(mtl::MultiTaskLoader(data, 4, false, 0, true).size(), 2u);
  EXPECT_THROW(mtl::MultiTaskDataset(x, {arange(9.0)}), Error);
}
