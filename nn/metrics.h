// Evaluation metrics: classification (accuracy, top-k accuracy, confusion matrix, precision / recall / F1 with
// macro, micro or per-class averaging) and regression (MSE, MAE, R²), as functions of one batch and as
// streaming accumulators for a whole epoch.
//
//   double acc = tandem::nn::metrics::accuracy(logits, labels);                  // argmax over dim 1
//   tandem::Tensor f1 = tandem::nn::metrics::f1_score(logits, labels, 10);       // macro average, 0-d float64
//
//   tandem::nn::metrics::ClassificationMetrics epoch(10);
//   for (auto& batch : loader) epoch.update(model(batch.data), batch.target);
//   tandem::nn::metrics::ClassificationReport r = epoch.compute();             // r.accuracy, r.f1_macro, ...
//
// Conventions follow scikit-learn: the confusion matrix's rows are the true classes and its columns the
// predicted ones; a class that is never predicted has precision 0, one that never occurs has recall 0, and F1
// is 0 where precision + recall is 0 (zero_division=0); the macro average runs over all num_classes classes.
// Classification inputs are either scores (logits or probabilities) [N, C] or [N, C, d...] with targets
// [N] or [N, d...] — the prediction is the argmax over dim 1, the first maximum on ties — or int64 class
// predictions of the targets' shape. Targets are int64 class indices in [0, num_classes).
// Metrics are computed in float64 on the host; they are not differentiable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace tandem::nn::metrics {

/// How per-class precision, recall and F1 are combined.
enum class Average {
  Macro,  ///< the unweighted mean over classes
  Micro,  ///< from the totals over all classes (for single-label data: equal to the accuracy)
  None,   ///< one value per class
};

/// Class predictions (int64, the targets' shape) from scores [N, C, ...] (argmax over dim 1) or from int64
/// predictions, which are checked and returned as they are. `op` names the caller in error messages.
Tensor predicted_classes(const Tensor& scores_or_predictions, const Tensor& targets, const char* op = "metrics");

/// The fraction of samples whose prediction equals the target.
double accuracy(const Tensor& scores_or_predictions, const Tensor& targets);

/// The fraction of samples whose target is among the k highest scores of scores [N, C] (targets [N]). A target
/// counts as found when fewer than k classes score strictly higher than it.
double top_k_accuracy(const Tensor& scores, const Tensor& targets, int64_t k);

/// int64 [num_classes, num_classes]: entry (t, p) counts the samples of true class t predicted as p.
Tensor confusion_matrix(const Tensor& scores_or_predictions, const Tensor& targets, int64_t num_classes);

/// TP / (TP + FP) per class, averaged as asked: a 0-d float64 tensor (Macro, Micro) or [num_classes] (None).
Tensor precision(const Tensor& scores_or_predictions, const Tensor& targets, int64_t num_classes,
                 Average average = Average::Macro);
/// TP / (TP + FN) per class, averaged as asked.
Tensor recall(const Tensor& scores_or_predictions, const Tensor& targets, int64_t num_classes,
              Average average = Average::Macro);
/// 2 TP / (2 TP + FP + FN) per class (the harmonic mean of precision and recall), averaged as asked.
Tensor f1_score(const Tensor& scores_or_predictions, const Tensor& targets, int64_t num_classes,
                Average average = Average::Macro);

/// Mean squared error over all elements; prediction and target must have the same shape.
double mse(const Tensor& prediction, const Tensor& target);
/// Mean absolute error over all elements.
double mae(const Tensor& prediction, const Tensor& target);
/// Coefficient of determination 1 - SS_res / SS_tot over all elements (as one output). When the target is
/// constant (SS_tot = 0) it is 1 for a perfect prediction and 0 otherwise, as scikit-learn's force_finite.
double r2_score(const Tensor& prediction, const Tensor& target);

/// The classification metrics of everything added to a ClassificationMetrics.
struct ClassificationReport {
  int64_t num_samples = 0;
  double accuracy = 0;
  double precision_macro = 0, recall_macro = 0, f1_macro = 0;
  std::vector<double> precision, recall, f1;  ///< per class
  std::vector<int64_t> support;               ///< true samples per class
  Tensor confusion_matrix;                    ///< int64 [C, C], rows = true class
  /// The k given to ClassificationMetrics (0: top-k accuracy not tracked).
  int64_t top_k = 0;
  /// Top-k accuracy (only when k > 0 and every update passed scores [N, C]).
  std::optional<double> top_k_accuracy;
  /// (name, value) pairs for a log row: accuracy, precision_macro, recall_macro, f1_macro and, when computed,
  /// top<k>_accuracy.
  std::vector<std::pair<std::string, double>> summary() const;
};

/// Accumulates a confusion matrix (and top-k hits) over batches, for the metrics of a whole epoch.
class ClassificationMetrics {
 public:
  /// `top_k` > 0 also tracks top-k accuracy (the updates must then pass scores, not predictions).
  explicit ClassificationMetrics(int64_t num_classes, int64_t top_k = 0);
  /// Adds a batch: scores [N, C, ...] or int64 predictions, and int64 targets.
  void update(const Tensor& scores_or_predictions, const Tensor& targets);
  /// The metrics of everything added since construction or the last reset(); throws when nothing was added.
  ClassificationReport compute() const;
  void reset();
  int64_t num_classes() const { return num_classes_; }
  int64_t num_samples() const { return num_samples_; }

 private:
  int64_t num_classes_;
  int64_t top_k_;
  int64_t num_samples_ = 0;
  int64_t top_k_hits_ = 0;
  bool top_k_valid_ = true;
  std::vector<int64_t> confusion_;  ///< row-major [C, C]
};

/// The regression metrics of everything added to a RegressionMetrics.
struct RegressionReport {
  int64_t num_elements = 0;
  double mse = 0, mae = 0, rmse = 0, r2 = 0;
  /// (name, value) pairs for a log row: mse, rmse, mae, r2.
  std::vector<std::pair<std::string, double>> summary() const;
};

/// Accumulates squared and absolute errors and the target's running mean and variance (merged batch by
/// batch with Chan's formula, so R² matches the one-shot value without cancellation).
class RegressionMetrics {
 public:
  void update(const Tensor& prediction, const Tensor& target);
  /// Throws when nothing was added.
  RegressionReport compute() const;
  void reset();
  int64_t num_elements() const { return count_; }

 private:
  int64_t count_ = 0;
  double sum_squared_error_ = 0;
  double sum_absolute_error_ = 0;
  double target_mean_ = 0;
  double target_m2_ = 0;  ///< sum of squared deviations of the targets from their mean
};

}  // namespace tandem::nn::metrics
