// Metrics against hand-computed values: accuracy from scores and from predictions (also per-pixel), top-k
// accuracy, the confusion matrix, precision / recall / F1 with macro, micro and per-class averaging (with a
// class that never occurs, scikit-learn's zero_division=0), MSE / MAE / R², the streaming accumulators (equal to
// the one-shot values, numerically stable R²) and every misuse.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "nn/metrics.h"
#include "tensor/functions.h"

namespace {

using namespace tandem;
using namespace tandem::nn::metrics;

void expect_error_mentioning(const std::function<void()>& fn, const std::string& part) {
  try {
    fn();
    ADD_FAILURE() << "expected tandem::Error mentioning " << part;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

// Eight samples of four classes; class 3 never occurs and is never predicted.
//   true:      0 0 1 1 2 2 2 0
//   predicted: 0 1 1 1 2 0 2 0
const std::vector<int64_t> kTargets = {0, 0, 1, 1, 2, 2, 2, 0};
const std::vector<int64_t> kPredictions = {0, 1, 1, 1, 2, 0, 2, 0};

Tensor targets() { return tensor(kTargets); }
Tensor predictions() { return tensor(kPredictions); }
/// Scores whose argmax is kPredictions, with noise that does not change it.
Tensor scores() {
  manual_seed(3);
  return one_hot(predictions(), 4).to(kFloat32).mul(3.0).add(rand({8, 4}));
}

TEST(NnMetrics, AccuracyFromPredictionsAndScores) {
  EXPECT_DOUBLE_EQ(accuracy(predictions(), targets()), 6.0 / 8.0);
  EXPECT_DOUBLE_EQ(accuracy(scores(), targets()), 6.0 / 8.0);
  EXPECT_DOUBLE_EQ(accuracy(scores().to(kFloat64), targets()), 6.0 / 8.0);
  // Ties go to the first maximum.
  EXPECT_DOUBLE_EQ(accuracy(tensor({1.f, 1.f, 0.f}).reshape({1, 3}), tensor(std::vector<int64_t>{0})), 1.0);
}

TEST(NnMetrics, AccuracyPerPixel) {
  // scores [N=1, C=2, H=2, W=2]: predicted class map [[1, 0], [0, 1]]
  Tensor s = tensor({0.f, 1.f, 1.f, 0.f, /* class 1 */ 1.f, 0.f, 0.f, 1.f}).reshape({1, 2, 2, 2});
  Tensor t = tensor(std::vector<int64_t>{1, 0, 1, 1}).reshape({1, 2, 2});
  EXPECT_DOUBLE_EQ(accuracy(s, t), 3.0 / 4.0);
  EXPECT_EQ(predicted_classes(s, t).to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 0, 1}));
}

TEST(NnMetrics, TopKAccuracy) {
  Tensor s = tensor({0.1, 0.5, 0.4, 0.3, 0.2, 0.5, 0.6, 0.1, 0.3}).reshape({3, 3});
  Tensor t = tensor(std::vector<int64_t>{2, 0, 1});
  EXPECT_DOUBLE_EQ(top_k_accuracy(s, t, 1), 0.0);
  EXPECT_DOUBLE_EQ(top_k_accuracy(s, t, 2), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(top_k_accuracy(s, t, 3), 1.0);
  EXPECT_DOUBLE_EQ(top_k_accuracy(s, t, 10), 1.0);
  EXPECT_DOUBLE_EQ(top_k_accuracy(scores(), targets(), 1), accuracy(scores(), targets()));
}

TEST(NnMetrics, ConfusionMatrixRowsAreTrueClasses) {
  Tensor cm = confusion_matrix(predictions(), targets(), 4);
  EXPECT_EQ(cm.dtype(), kInt64);
  EXPECT_EQ(cm.sizes(), Dims({4, 4}));
  EXPECT_EQ(cm.to_vector<int64_t>(), (std::vector<int64_t>{2, 1, 0, 0,  //
                                                           0, 2, 0, 0,  //
                                                           1, 0, 2, 0,  //
                                                           0, 0, 0, 0}));
  EXPECT_EQ(confusion_matrix(scores(), targets(), 4).to_vector<int64_t>(), cm.to_vector<int64_t>());
}

TEST(NnMetrics, PrecisionRecallF1PerClass) {
  // predicted per class (columns): 3, 3, 2, 0; true per class (rows): 3, 2, 3, 0; diagonal 2, 2, 2, 0.
  EXPECT_EQ(precision(predictions(), targets(), 4, Average::None).to_vector<double>(),
            (std::vector<double>{2.0 / 3, 2.0 / 3, 1.0, 0.0}));
  EXPECT_EQ(recall(predictions(), targets(), 4, Average::None).to_vector<double>(),
            (std::vector<double>{2.0 / 3, 1.0, 2.0 / 3, 0.0}));
  const auto f1 = f1_score(predictions(), targets(), 4, Average::None).to_vector<double>();
  ASSERT_EQ(f1.size(), 4u);
  EXPECT_DOUBLE_EQ(f1[0], 2.0 / 3);
  EXPECT_DOUBLE_EQ(f1[1], 0.8);
  EXPECT_DOUBLE_EQ(f1[2], 0.8);
  EXPECT_DOUBLE_EQ(f1[3], 0.0);
}

TEST(NnMetrics, MacroAndMicroAverages) {
  Tensor p = precision(scores(), targets(), 4);  // macro by default
  EXPECT_EQ(p.dim(), 0);
  EXPECT_EQ(p.dtype(), kFloat64);
  EXPECT_DOUBLE_EQ(p.item<double>(), 7.0 / 12);  // (2/3 + 2/3 + 1 + 0) / 4
  EXPECT_DOUBLE_EQ(recall(predictions(), targets(), 4, Average::Macro).item<double>(), 7.0 / 12);
  EXPECT_DOUBLE_EQ(f1_score(predictions(), targets(), 4, Average::Macro).item<double>(), 17.0 / 30);  // (2/3+.8+.8)/4
  // Micro averages of single-label data equal the accuracy.
  for (auto fn : {precision, recall, f1_score})
    EXPECT_DOUBLE_EQ(fn(predictions(), targets(), 4, Average::Micro).item<double>(), 0.75);
  // With only the three classes that occur, macro precision is (2/3 + 2/3 + 1) / 3.
  EXPECT_DOUBLE_EQ(precision(predictions(), targets(), 3).item<double>(), 7.0 / 9);
}

TEST(NnMetrics, Regression) {
  Tensor p = tensor({1.0, 2.0, 3.0, 4.0}), t = tensor({1.5, 2.0, 2.0, 5.0});
  // errors -0.5, 0, 1, -1; target mean 2.625, SS_tot 7.6875, SS_res 2.25
  EXPECT_DOUBLE_EQ(mse(p, t), 0.5625);
  EXPECT_DOUBLE_EQ(mae(p, t), 0.625);
  EXPECT_DOUBLE_EQ(r2_score(p, t), 29.0 / 41);
  EXPECT_DOUBLE_EQ(mse(p.to(kFloat32).reshape({2, 2}), t.to(kFloat32).reshape({2, 2})), 0.5625);
  EXPECT_DOUBLE_EQ(r2_score(t, t), 1.0);
  // A constant target: 1 for a perfect prediction, 0 otherwise.
  EXPECT_DOUBLE_EQ(r2_score(full({3}, 2.0), full({3}, 2.0)), 1.0);
  EXPECT_DOUBLE_EQ(r2_score(tensor({1.0, 2.0, 3.0}), full({3}, 2.0, kFloat64)), 0.0);
  EXPECT_DOUBLE_EQ(mse(tensor(std::vector<int64_t>{1, 3}), tensor(std::vector<int64_t>{2, 1})), 2.5);
}

TEST(NnMetrics, StreamingClassificationEqualsOneShot) {
  ClassificationMetrics m(4, /*top_k=*/2);
  Tensor s = scores(), t = targets();
  m.update(s.slice(0, 0, 3), t.slice(0, 0, 3));
  m.update(s.slice(0, 3, 8), t.slice(0, 3, 8));
  const ClassificationReport r = m.compute();
  EXPECT_EQ(r.num_samples, 8);
  EXPECT_DOUBLE_EQ(r.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(r.precision_macro, 7.0 / 12);
  EXPECT_DOUBLE_EQ(r.recall_macro, 7.0 / 12);
  EXPECT_DOUBLE_EQ(r.f1_macro, 17.0 / 30);
  EXPECT_EQ(r.support, (std::vector<int64_t>{3, 2, 3, 0}));
  EXPECT_EQ(r.confusion_matrix.to_vector<int64_t>(), confusion_matrix(s, t, 4).to_vector<int64_t>());
  ASSERT_TRUE(r.top_k_accuracy.has_value());
  EXPECT_DOUBLE_EQ(*r.top_k_accuracy, top_k_accuracy(s, t, 2));
  const auto summary = r.summary();
  ASSERT_EQ(summary.size(), 5u);
  EXPECT_EQ(summary[0].first, "accuracy");
  EXPECT_EQ(summary[4].first, "top2_accuracy");

  // Predictions instead of scores: no top-k.
  m.update(predictions(), targets());
  EXPECT_EQ(m.num_samples(), 16);
  EXPECT_FALSE(m.compute().top_k_accuracy.has_value());
  m.reset();
  EXPECT_EQ(m.num_samples(), 0);
  expect_error_mentioning([&] { m.compute(); }, "no samples");
}

TEST(NnMetrics, StreamingRegressionEqualsOneShotAndIsStable) {
  RegressionMetrics m;
  m.update(tensor({1.0, 2.0}), tensor({1.5, 2.0}));
  m.update(tensor({3.0, 4.0}), tensor({2.0, 5.0}));
  const RegressionReport r = m.compute();
  EXPECT_EQ(r.num_elements, 4);
  EXPECT_DOUBLE_EQ(r.mse, 0.5625);
  EXPECT_DOUBLE_EQ(r.rmse, 0.75);
  EXPECT_DOUBLE_EQ(r.mae, 0.625);
  EXPECT_NEAR(r.r2, 29.0 / 41, 1e-15);
  EXPECT_EQ(r.summary().size(), 4u);

  // Targets far from zero: a naive sum-of-squares variance would cancel catastrophically.
  RegressionMetrics big;
  const double offset = 1e9;
  big.update(tensor({offset + 1.0, offset + 2.0}), tensor({offset + 1.5, offset + 2.0}));
  big.update(tensor({offset + 3.0, offset + 4.0}), tensor({offset + 2.0, offset + 5.0}));
  EXPECT_NEAR(big.compute().r2, 29.0 / 41, 1e-9);
  big.reset();
  expect_error_mentioning([&] { big.compute(); }, "no values");
}

TEST(NnMetrics, Misuse) {
  expect_error_mentioning([] { accuracy(tensor({0.5f, 0.5f}), tensor({1.f, 0.f})); }, "int64 class indices");
  expect_error_mentioning([] { accuracy(randn({4, 3}), tensor(std::vector<int64_t>{0, 1, 2})); }, "do not fit targets");
  expect_error_mentioning([] { accuracy(tensor(std::vector<int64_t>{0, 1}), tensor(std::vector<int64_t>{0, 1, 2})); },
                          "do not match targets");
  expect_error_mentioning([] { accuracy(zeros({0, 3}), zeros({0}, kInt64)); }, "no samples");
  expect_error_mentioning([] { confusion_matrix(predictions(), targets(), 2); }, "target 2 at position 4");
  expect_error_mentioning([] { confusion_matrix(tensor(std::vector<int64_t>{0, 5}), tensor(std::vector<int64_t>{0, 1}), 3); },
                          "prediction 5 at position 1");
  expect_error_mentioning([] { confusion_matrix(tensor(std::vector<int64_t>{0, -1}), tensor(std::vector<int64_t>{0, 1}), 3); },
                          "prediction -1");
  expect_error_mentioning([] { precision(predictions(), targets(), 0); }, "num_classes must be at least 1");
  expect_error_mentioning([] { top_k_accuracy(randn({2, 3}), tensor(std::vector<int64_t>{0, 1}), 0); }, "k must be at least 1");
  expect_error_mentioning([] { top_k_accuracy(randn({2, 3}), tensor(std::vector<int64_t>{0, 3}), 1); }, "target 3");
  expect_error_mentioning([] { top_k_accuracy(randn({2, 3, 1}), zeros({2, 1}, kInt64), 1); }, "expected scores [N, C]");
  expect_error_mentioning([] { mse(randn({3}), randn({3, 1})); }, "differ");
  expect_error_mentioning([] { mae(zeros({0}), zeros({0})); }, "no values");
  expect_error_mentioning([] { r2_score(ones({2}, kBool), ones({2}, kBool)); }, "bool");
  expect_error_mentioning([] { ClassificationMetrics(0); }, "num_classes");
  expect_error_mentioning([] { ClassificationMetrics(3, -1); }, "top_k");
  ClassificationMetrics m(3);
  expect_error_mentioning([&] { m.update(randn({2, 4}), tensor(std::vector<int64_t>{0, 1})); }, "expected 3");
  // A batch with a bad label is rejected as a whole.
  expect_error_mentioning([&] { m.update(tensor(std::vector<int64_t>{0, 1}), tensor(std::vector<int64_t>{0, 7})); },
                          "target 7");
  EXPECT_EQ(m.num_samples(), 0);
}

}  // namespace
