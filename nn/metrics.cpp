// Classification and regression metrics. Inputs are checked, reduced to class indices or float64 values on
// the host, and counted there: a confusion matrix for classification, error sums and the target's running
// moments for regression. The one-batch functions are the streaming accumulators applied to one batch.
#include "nn/metrics.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_mode.h"
#include "tensor/functions.h"

namespace tandem::nn::metrics {

namespace {

std::vector<double> host_values(const Tensor& t) { return t.detach().to_vector<double>(); }

void check_num_classes(int64_t num_classes, const char* op) {
  TD_CHECK(num_classes >= 1, op, ": num_classes must be at least 1, got ", num_classes);
}

/// Adds each (target, prediction) pair of one batch to a row-major [C, C] confusion matrix, after checking
/// that every index lies in [0, C).
void count_pairs(const Tensor& predictions, const Tensor& targets, int64_t num_classes, std::vector<int64_t>& confusion,
                 const char* op) {
  const std::vector<int64_t> p = predictions.to_vector<int64_t>();
  const std::vector<int64_t> t = targets.to_vector<int64_t>();
  for (size_t i = 0; i < t.size(); ++i) {
    TD_CHECK(t[i] >= 0 && t[i] < num_classes, op, ": target ", t[i], " at position ", i, " is outside [0, ",
             num_classes, ")");
    TD_CHECK(p[i] >= 0 && p[i] < num_classes, op, ": prediction ", p[i], " at position ", i, " is outside [0, ",
             num_classes, ")");
  }
  for (size_t i = 0; i < t.size(); ++i) ++confusion[static_cast<size_t>(t[i] * num_classes + p[i])];
}

/// Per-class precision, recall and F1 (zero where undefined) and their macro and micro averages.
struct PerClass {
  std::vector<double> precision, recall, f1;
  std::vector<int64_t> support;
  double precision_micro = 0, recall_micro = 0, f1_micro = 0;
};

PerClass per_class(const std::vector<int64_t>& confusion, int64_t num_classes) {
  const auto c = static_cast<size_t>(num_classes);
  PerClass out;
  out.precision.assign(c, 0.0);
  out.recall.assign(c, 0.0);
  out.f1.assign(c, 0.0);
  out.support.assign(c, 0);
  int64_t tp_total = 0, predicted_total = 0, actual_total = 0;
  for (size_t k = 0; k < c; ++k) {
    const int64_t tp = confusion[k * c + k];
    int64_t predicted = 0, actual = 0;
    for (size_t j = 0; j < c; ++j) {
      predicted += confusion[j * c + k];
      actual += confusion[k * c + j];
    }
    out.support[k] = actual;
    if (predicted > 0) out.precision[k] = static_cast<double>(tp) / static_cast<double>(predicted);
    if (actual > 0) out.recall[k] = static_cast<double>(tp) / static_cast<double>(actual);
    if (predicted + actual > 0) out.f1[k] = 2.0 * static_cast<double>(tp) / static_cast<double>(predicted + actual);
    tp_total += tp;
    predicted_total += predicted;
    actual_total += actual;
  }
  if (predicted_total > 0) out.precision_micro = static_cast<double>(tp_total) / static_cast<double>(predicted_total);
  if (actual_total > 0) out.recall_micro = static_cast<double>(tp_total) / static_cast<double>(actual_total);
  if (predicted_total + actual_total > 0)
    out.f1_micro = 2.0 * static_cast<double>(tp_total) / static_cast<double>(predicted_total + actual_total);
  return out;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

/// A per-class quantity averaged as asked, as a float64 tensor.
Tensor averaged(const std::vector<double>& per_class_values, double micro, Average average) {
  switch (average) {
    case Average::Macro: return scalar_tensor(mean_of(per_class_values), kFloat64);
    case Average::Micro: return scalar_tensor(micro, kFloat64);
    case Average::None: return tensor(per_class_values, kFloat64);
  }
  throw Error("metrics: unknown averaging mode");
}

PerClass per_class_of(const Tensor& scores_or_predictions, const Tensor& targets, int64_t num_classes, const char* op) {
  check_num_classes(num_classes, op);
  const Tensor predictions = predicted_classes(scores_or_predictions, targets, op);
  std::vector<int64_t> confusion(static_cast<size_t>(num_classes * num_classes), 0);
  count_pairs(predictions, targets, num_classes, confusion, op);
  return per_class(confusion, num_classes);
}

/// Both operands as float64 host values, after checking that they match.
std::pair<std::vector<double>, std::vector<double>> regression_values(const Tensor& prediction, const Tensor& target,
                                                                      const char* op) {
  TD_CHECK(prediction.defined() && target.defined(), op, ": undefined prediction or target");
  TD_CHECK(prediction.sizes() == target.sizes(), op, ": prediction of shape ", prediction.sizes(),
           " and target of shape ", target.sizes(), " differ (no broadcasting: reshape one of them)");
  TD_CHECK(prediction.dtype() != kBool && target.dtype() != kBool, op, ": bool tensors are not regression values");
  return {host_values(prediction), host_values(target)};
}

}  // namespace

Tensor predicted_classes(const Tensor& scores_or_predictions, const Tensor& targets, const char* op) {
  const Tensor& input = scores_or_predictions;
  TD_CHECK(input.defined() && targets.defined(), op, ": undefined predictions or targets");
  TD_CHECK(targets.dtype() == kInt64, op, ": targets must be int64 class indices, got ", targets.dtype());
  if (input.dtype() == kInt64) {
    TD_CHECK(input.sizes() == targets.sizes(), op, ": int64 predictions of shape ", input.sizes(),
             " do not match targets of shape ", targets.sizes());
    return input;
  }
  TD_CHECK(input.is_floating_point(), op, ": predictions must be floating scores [N, C, ...] or int64 classes, got ",
           input.dtype());
  bool fits = input.dim() == targets.dim() + 1 && input.dim() >= 2 && input.size(0) == targets.size(0);
  for (int64_t d = 2; fits && d < input.dim(); ++d) fits = input.size(d) == targets.size(d - 1);
  TD_CHECK(fits, op, ": scores of shape ", input.sizes(), " do not fit targets of shape ", targets.sizes(),
           " (expected scores [N, C, d...] for targets [N, d...])");
  TD_CHECK(input.size(1) >= 1, op, ": scores of shape ", input.sizes(), " have no classes");
  NoGradGuard no_grad;
  return argmax(input.detach(), 1);
}

double accuracy(const Tensor& scores_or_predictions, const Tensor& targets) {
  const Tensor predictions = predicted_classes(scores_or_predictions, targets, "accuracy");
  const std::vector<int64_t> p = predictions.to_vector<int64_t>();
  const std::vector<int64_t> t = targets.to_vector<int64_t>();
  TD_CHECK(!t.empty(), "accuracy: no samples (targets of shape ", targets.sizes(), ")");
  int64_t correct = 0;
  for (size_t i = 0; i < t.size(); ++i) correct += p[i] == t[i];
  return static_cast<double>(correct) / static_cast<double>(t.size());
}

namespace {
/// Counts the rows of scores [N, C] whose target is among the k best.
int64_t count_top_k_hits(const Tensor& scores, const Tensor& targets, int64_t k, const char* op) {
  TD_CHECK(scores.defined() && targets.defined(), op, ": undefined scores or targets");
  TD_CHECK(scores.is_floating_point(), op, ": scores must be floating point, got ", scores.dtype());
  TD_CHECK(targets.dtype() == kInt64, op, ": targets must be int64 class indices, got ", targets.dtype());
  TD_CHECK(scores.dim() == 2 && targets.dim() == 1 && scores.size(0) == targets.size(0), op, ": expected scores [N, C] and targets [N], got ",
           scores.sizes(), " and ", targets.sizes());
  TD_CHECK(k >= 1, op, ": k must be at least 1, got ", k);
  const int64_t n = scores.size(0), c = scores.size(1);
  const std::vector<double> s = host_values(scores);
  const std::vector<int64_t> t = targets.to_vector<int64_t>();
  int64_t hits = 0;
  for (int64_t i = 0; i < n; ++i) {
    TD_CHECK(t[i] >= 0 && t[i] < c, op, ": target ", t[i], " at position ", i, " is outside [0, ", c, ")");
    const double* row = s.data() + i * c;
    const double target_score = row[t[i]];
    int64_t higher = 0;
    for (int64_t j = 0; j < c; ++j) higher += row[j] > target_score;
    hits += higher < k;
  }
  return hits;
}
}  // namespace

double top_k_accuracy(const Tensor& scores, const Tensor& targets, int64_t k) {
  const int64_t hits = count_top_k_hits(scores, targets, k, "top_k_accuracy");
  TD_CHECK(targets.numel() > 0, "top_k_accuracy: no samples");
  return static_cast<double>(hits) / static_cast<double>(targets.numel());
}

Tensor confusion_matrix(const Tensor& scores_or_predictions, const Tensor& targets, int64_t num_classes) {
  check_num_classes(num_classes, "confusion_matrix");
  const Tensor predictions = predicted_classes(scores_or_predictions, targets, "confusion_matrix");
  std::vector<int64_t> confusion(static_cast<size_t>(num_classes * num_classes), 0);
  count_pairs(predictions, targets, num_classes, confusion, "confusion_matrix");
  return tensor(confusion, kInt64).reshape({num_classes, num_classes});
}

Tensor precision(const Tensor& scores_or_predictions, const Tensor& targets, int64_t num_classes, Average average) {
  const PerClass pc = per_class_of(scores_or_predictions, targets, num_classes, "precision");
  return averaged(pc.precision, pc.precision_micro, average);
}

Tensor recall(const Tensor& scores_or_predictions, const Tensor& targets, int64_t num_classes, Average average) {
  const PerClass pc = per_class_of(scores_or_predictions, targets, num_classes, "recall");
  return averaged(pc.recall, pc.recall_micro, average);
}

Tensor f1_score(const Tensor& scores_or_predictions, const Tensor& targets, int64_t num_classes, Average average) {
  const PerClass pc = per_class_of(scores_or_predictions, targets, num_classes, "f1_score");
  return averaged(pc.f1, pc.f1_micro, average);
}

double mse(const Tensor& prediction, const Tensor& target) {
  RegressionMetrics m;
  m.update(prediction, target);
  TD_CHECK(m.num_elements() > 0, "mse: no values (shape ", target.sizes(), ")");
  return m.compute().mse;
}

double mae(const Tensor& prediction, const Tensor& target) {
  RegressionMetrics m;
  m.update(prediction, target);
  TD_CHECK(m.num_elements() > 0, "mae: no values (shape ", target.sizes(), ")");
  return m.compute().mae;
}

double r2_score(const Tensor& prediction, const Tensor& target) {
  RegressionMetrics m;
  m.update(prediction, target);
  TD_CHECK(m.num_elements() > 0, "r2_score: no values (shape ", target.sizes(), ")");
  return m.compute().r2;
}

// ---- ClassificationMetrics ------------------------------------------------------------------------------------
std::vector<std::pair<std::string, double>> ClassificationReport::summary() const {
  std::vector<std::pair<std::string, double>> out = {
      {"accuracy", accuracy}, {"precision_macro", precision_macro}, {"recall_macro", recall_macro}, {"f1_macro", f1_macro}};
  if (top_k_accuracy) out.emplace_back("top" + std::to_string(top_k) + "_accuracy", *top_k_accuracy);
  return out;
}

ClassificationMetrics::ClassificationMetrics(int64_t num_classes, int64_t top_k)
    : num_classes_(num_classes), top_k_(top_k) {
  check_num_classes(num_classes, "ClassificationMetrics");
  TD_CHECK(top_k >= 0, "ClassificationMetrics: top_k must be 0 (off) or positive, got ", top_k);
  confusion_.assign(static_cast<size_t>(num_classes * num_classes), 0);
}

void ClassificationMetrics::update(const Tensor& scores_or_predictions, const Tensor& targets) {
  const Tensor predictions = predicted_classes(scores_or_predictions, targets, "ClassificationMetrics::update");
  if (scores_or_predictions.is_floating_point())
    TD_CHECK(scores_or_predictions.size(1) == num_classes_, "ClassificationMetrics::update: scores of shape ",
             scores_or_predictions.sizes(), " have ", scores_or_predictions.size(1), " classes, expected ", num_classes_);
  // Validate the whole batch before counting any of it.
  std::vector<int64_t> batch(confusion_.size(), 0);
  count_pairs(predictions, targets, num_classes_, batch, "ClassificationMetrics::update");
  int64_t hits = 0;
  const bool top_k_here = top_k_ > 0 && scores_or_predictions.is_floating_point() && scores_or_predictions.dim() == 2;
  if (top_k_here) hits = count_top_k_hits(scores_or_predictions, targets, top_k_, "ClassificationMetrics::update");
  for (size_t i = 0; i < batch.size(); ++i) confusion_[i] += batch[i];
  num_samples_ += targets.numel();
  top_k_hits_ += hits;
  if (top_k_ > 0 && !top_k_here) top_k_valid_ = false;
}

ClassificationReport ClassificationMetrics::compute() const {
  TD_CHECK(num_samples_ > 0, "ClassificationMetrics::compute: no samples have been added");
  const PerClass pc = per_class(confusion_, num_classes_);
  ClassificationReport r;
  r.num_samples = num_samples_;
  int64_t correct = 0;
  for (int64_t k = 0; k < num_classes_; ++k) correct += confusion_[static_cast<size_t>(k * num_classes_ + k)];
  r.accuracy = static_cast<double>(correct) / static_cast<double>(num_samples_);
  r.precision = pc.precision;
  r.recall = pc.recall;
  r.f1 = pc.f1;
  r.support = pc.support;
  r.precision_macro = mean_of(pc.precision);
  r.recall_macro = mean_of(pc.recall);
  r.f1_macro = mean_of(pc.f1);
  r.confusion_matrix = tensor(confusion_, kInt64).reshape({num_classes_, num_classes_});
  r.top_k = top_k_;
  if (top_k_ > 0 && top_k_valid_) r.top_k_accuracy = static_cast<double>(top_k_hits_) / static_cast<double>(num_samples_);
  return r;
}

void ClassificationMetrics::reset() {
  std::fill(confusion_.begin(), confusion_.end(), 0);
  num_samples_ = 0;
  top_k_hits_ = 0;
  top_k_valid_ = true;
}

// ---- RegressionMetrics ----------------------------------------------------------------------------------------
std::vector<std::pair<std::string, double>> RegressionReport::summary() const {
  return {{"mse", mse}, {"rmse", rmse}, {"mae", mae}, {"r2", r2}};
}

void RegressionMetrics::update(const Tensor& prediction, const Tensor& target) {
  const auto [p, t] = regression_values(prediction, target, "RegressionMetrics::update");
  if (t.empty()) return;
  double squared = 0, absolute = 0, mean = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    const double e = p[i] - t[i];
    squared += e * e;
    absolute += std::abs(e);
    mean += t[i];
  }
  const auto n = static_cast<int64_t>(t.size());
  mean /= static_cast<double>(n);
  double m2 = 0;
  for (double v : t) m2 += (v - mean) * (v - mean);
  // Chan et al.: merge (count_, target_mean_, target_m2_) with this batch's (n, mean, m2).
  const int64_t total = count_ + n;
  const double delta = mean - target_mean_;
  target_m2_ += m2 + delta * delta * static_cast<double>(count_) * static_cast<double>(n) / static_cast<double>(total);
  target_mean_ += delta * static_cast<double>(n) / static_cast<double>(total);
  count_ = total;
  sum_squared_error_ += squared;
  sum_absolute_error_ += absolute;
}

RegressionReport RegressionMetrics::compute() const {
  TD_CHECK(count_ > 0, "RegressionMetrics::compute: no values have been added");
  RegressionReport r;
  r.num_elements = count_;
  r.mse = sum_squared_error_ / static_cast<double>(count_);
  r.rmse = std::sqrt(r.mse);
  r.mae = sum_absolute_error_ / static_cast<double>(count_);
  if (target_m2_ > 0) r.r2 = 1.0 - sum_squared_error_ / target_m2_;
  else r.r2 = sum_squared_error_ == 0 ? 1.0 : 0.0;
  return r;
}

void RegressionMetrics::reset() { *this = RegressionMetrics(); }

}  // namespace tandem::nn::metrics
